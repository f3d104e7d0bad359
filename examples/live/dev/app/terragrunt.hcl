include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "../../modules/null_stack"
}

# Real Terragrunt would plan ../network first and could read its outputs; the stacks are
# independent here, the block is for a realistic layout.
dependency "network" {
  config_path = "../network"

  mock_outputs = {
    component_id = "mock-network-id"
  }
}

inputs = {
  environment    = "dev"
  component      = "app"
  instance_count = 2
  settings = {
    size = "small"
  }
}
