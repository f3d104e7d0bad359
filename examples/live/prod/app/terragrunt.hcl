include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "../../modules/null_stack"
}

dependencies {
  paths = ["../network"]
}

inputs = {
  environment    = "prod"
  component      = "app"
  instance_count = 3
  settings = {
    size = "large"
  }
}
