variable "project" {
  type = string
}

variable "component" {
  type = string
}

variable "size" {
  type = string
}

resource "null_resource" "this" {
  triggers = {
    project   = var.project
    component = var.component
    size      = var.size
  }
}
