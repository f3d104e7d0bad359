output "component_id" {
  description = "ID of the component resource."
  value       = null_resource.component.id
}

output "instance_ids" {
  description = "IDs of the instances."
  value       = null_resource.instance[*].id
}
