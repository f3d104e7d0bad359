# Included by every generated unit: `find_in_parent_folders("root.hcl")` from
# live/.terragrunt-stack/<path>/ finds this file.
inputs = {
  project = "driftctl-stacks-demo"
}
