include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "../../modules/null_stack"
}

inputs = {
  environment    = "staging"
  component      = "app"
  instance_count = 2
}
