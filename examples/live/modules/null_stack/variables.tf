variable "project" {
  description = "Project every resource belongs to (from root.hcl)."
  type        = string
}

variable "owner" {
  description = "Team that owns the stack (from root.hcl)."
  type        = string
}

variable "environment" {
  description = "dev, staging or prod."
  type        = string
}

variable "component" {
  description = "What the stack is, e.g. network or app. Required: no default."
  type        = string
}

variable "instance_count" {
  description = "How many instances to create."
  type        = number
  default     = 1
}

variable "settings" {
  description = "Free-form settings; changing one replaces the instances."
  type        = map(string)
  default     = {}
}
