# A catalog unit: never a unit itself, copied by `terragrunt stack generate` into each `unit` path,
# with the block's `values` written beside it to terragrunt.values.hcl.
include "root" {
  path = find_in_parent_folders("root.hcl")
}

inputs = {
  component = values.component
  size      = values.size
}

# Retired units stay declared but are never planned (Terragrunt >= 0.68.16).
exclude {
  if      = try(values.retired, false)
  actions = ["plan", "apply"]
}
