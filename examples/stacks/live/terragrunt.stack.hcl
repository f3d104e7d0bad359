# `driftctl stacks` lists the units this file generates, without generating them:
#   live/.terragrunt-stack/dev/.terragrunt-stack/{app,network}
#   live/.terragrunt-stack/prod/.terragrunt-stack/{app,network}
#   live/.terragrunt-stack/dns
# and `--show-excluded` adds live/.terragrunt-stack/legacy (its exclude block).
stack "dev" {
  source = "../catalog/stacks/environment"
  path   = "dev"
  values = {
    environment = "dev"
    app_size    = "small"
  }
}

stack "prod" {
  source = "../catalog/stacks/environment"
  path   = "prod"
  values = {
    environment = "prod"
    app_size    = "large"
  }
}

unit "dns" {
  source = "../catalog/units/null_unit"
  path   = "dns"
  values = {
    component = "dns"
    size      = "small"
  }
}

unit "legacy" {
  source = "../catalog/units/null_unit"
  path   = "legacy"
  values = {
    component = "legacy"
    size      = "small"
    retired   = true
  }
}
