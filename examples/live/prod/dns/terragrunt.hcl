include "root" {
  path = find_in_parent_folders("root.hcl")
}

# `//` marks the module inside the downloaded tree (here: the whole modules/ directory).
terraform {
  source = "${get_terragrunt_dir()}/../../modules//null_stack"
}

inputs = {
  environment = "prod"
  component   = "dns"
}
