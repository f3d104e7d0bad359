# Shared by every unit through `include "root" { path = find_in_parent_folders("root.hcl") }`.
# A unit's own `inputs` are merged over these (Terragrunt's default shallow merge).
locals {
  project = "driftctl-demo"
}

inputs = {
  project = local.project
  owner   = "platform-team"
  settings = {
    size = "small"
  }
}
