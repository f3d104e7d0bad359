terraform {
  required_version = ">= 1.0"

  required_providers {
    null = {
      source  = "hashicorp/null"
      version = "~> 2.1"
    }
  }
}

# Stands for the stack's "main" resource: changing any trigger replaces it.
resource "null_resource" "component" {
  triggers = {
    project     = var.project
    environment = var.environment
    component   = var.component
    owner       = var.owner
  }
}

# Stands for instances; their number and settings come from the unit's inputs.
resource "null_resource" "instance" {
  count = var.instance_count

  triggers = {
    name = "${var.environment}-${var.component}-${count.index}"
    size = lookup(var.settings, "size", "small")
  }
}
