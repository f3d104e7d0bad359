# A reusable environment: two units. Relative sources resolve from where the stack is generated,
# so the catalog is found with find_in_parent_folders.
unit "network" {
  source = find_in_parent_folders("catalog/units/null_unit")
  path   = "network"
  values = {
    component = "${values.environment}-network"
    size      = "small"
  }
}

unit "app" {
  source = find_in_parent_folders("catalog/units/null_unit")
  path   = "app"
  values = {
    component = "${values.environment}-app"
    size      = values.app_size
  }
}
