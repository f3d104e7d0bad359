include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "../../modules/null_stack"
}

inputs = {
  environment    = "dev"
  component      = "network"
  instance_count = 1
}
