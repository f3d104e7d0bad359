include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "../../modules/null_stack"
}

inputs = {
  environment    = "prod"
  component      = "network"
  instance_count = 2
}
