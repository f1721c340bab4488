package policy

// RuleDefault is a rule registered in code, as oslo.policy's RuleDefault and
// DocumentedRuleDefault: its default check string plus what the sample
// generator needs to document it.
type RuleDefault struct {
	Name        string
	CheckStr    string
	Description string
	// Operations lists the API calls the rule protects; empty for helper
	// rules that are only referenced by others.
	Operations []Operation
	// ScopeTypes are the token scopes the rule is meant for; when
	// enforce_scope is on, a token of another scope is refused.
	ScopeTypes []string
	// DeprecatedRule is the rule's previous default. Until
	// enforce_new_defaults is turned on it is OR'ed with CheckStr.
	DeprecatedRule *DeprecatedRule
	// DeprecatedForRemoval marks a rule that will go away; the reason and
	// release are only shown in the sample.
	DeprecatedForRemoval bool
	DeprecatedReason     string
	DeprecatedSince      string
}

func (d RuleDefault) clone() RuleDefault {
	d.Operations = append([]Operation(nil), d.Operations...)
	d.ScopeTypes = append([]string(nil), d.ScopeTypes...)
	if d.DeprecatedRule != nil {
		dep := *d.DeprecatedRule
		d.DeprecatedRule = &dep
	}
	return d
}

// Operation is one API call protected by a rule.
type Operation struct {
	Method string
	Path   string
}

// DeprecatedRule is the earlier default (and possibly earlier name) of a
// rule.
type DeprecatedRule struct {
	Name     string
	CheckStr string
	Reason   string
	Since    string
}

// Check strings shared by many Glance rules, composed the way Glance's
// glance/policies/base.py composes them so that the rendered sample matches
// oslopolicy-sample-generator's output byte for byte.
const (
	roleAdmin                = "role:admin"
	projectMember            = "role:member and project_id:%(project_id)s"
	projectReader            = "role:reader and project_id:%(project_id)s"
	imageMemberCheck         = "project_id:%(member_id)s"
	communityVisibilityCheck = "'community':%(visibility)s"
	publicVisibilityCheck    = "'public':%(visibility)s"
	sharedVisibilityCheck    = "'shared':%(visibility)s"

	anyVisibleImage = "(project_id:%(project_id)s or " + imageMemberCheck +
		" or " + communityVisibilityCheck + " or " + publicVisibilityCheck +
		" or " + sharedVisibilityCheck + ")"

	adminOrProjectMember               = roleAdmin + " or (" + projectMember + ")"
	adminOrProjectReader               = roleAdmin + " or (" + projectReader + ")"
	adminOrProjectReaderGetImage       = roleAdmin + " or (role:reader and " + anyVisibleImage + ")"
	adminOrProjectMemberDownloadImage  = roleAdmin + " or (role:member and " + anyVisibleImage + ")"
	adminOrProjectMemberCreateImage    = roleAdmin + " or (" + projectMember + " and project_id:%(owner)s)"
	adminOrProjectReaderGetNamespace   = roleAdmin + " or (role:reader and (project_id:%(project_id)s or " + publicVisibilityCheck + "))"
	adminOrSharedMember                = roleAdmin + " or (role:member and " + imageMemberCheck + ")"
	adminOrProjectReaderOrSharedMember = roleAdmin + " or role:reader and (project_id:%(project_id)s or " + imageMemberCheck + ")"
)

// Deprecation texts and releases of Glance 25.1's rules; oslo's versionutils
// names releases by their initial.
const (
	sinceWallaby = "W"
	sinceXena    = "X"

	reasonImageRoles   = "\nThe image API now supports roles.\n"
	reasonMetadefRoles = "\nThe metadata API now supports project scope and default roles.\n"
	reasonDefaultRule  = "In order to allow operators to accept the default policies from code by not defining them in the policy file, while still working with old policy files that rely on the ``default`` rule for policies that are not specified in the policy file, the ``default`` rule must now be explicitly set to ``\"role:admin\"`` when that is the desired default for unspecified rules."
	reasonTasksXena    = `
From Xena we are enforcing policy checks in the API and policy layer where
task policies were enforcing will be removed. Since task APIs are already
deprecated and ` + "`tasks_api_access`" + ` is checked for each API at API layer,
there will be no benefit of other having other task related policies.
`
	reasonModifyTask = `
This policy check has never been honored by the API. It will be removed in a
future release.
`
	descTask = `
This granular policy controls access to tasks, both from the tasks API as well
as internal locations in Glance that use tasks (like import). Practically this
cannot be more restrictive than the policy that controls import or things will
break, and changing it from the default is almost certainly not what you want.
Access to the external tasks API should be restricted as desired by the
tasks_api_access policy. This may change in the future.
`
	descTasksAPIAccess = `
This is a generic blanket policy for protecting all task APIs. It is not
granular and will not allow you to separate writable and readable task
operations into different roles.
`
)

// GlanceDefaults returns Glance 25.1 (Zed)'s registered rules, in the order
// glance.policies.list_rules() yields them (which is the order of the
// generated sample). Each call returns a fresh slice the caller may modify.
func GlanceDefaults() []RuleDefault {
	projectScope := func() []string { return []string{"project"} }
	return []RuleDefault{
		{
			Name:           "default",
			CheckStr:       "",
			Description:    "Defines the default rule used for policies that historically had an empty policy in the supplied policy.json file.",
			DeprecatedRule: &DeprecatedRule{Name: "default", CheckStr: roleAdmin, Reason: reasonDefaultRule, Since: "Ussuri"},
		},
		{
			Name:        "context_is_admin",
			CheckStr:    roleAdmin,
			Description: "Defines the rule for the is_admin:True check.",
		},
		{
			Name:           "add_image",
			CheckStr:       adminOrProjectMemberCreateImage,
			Description:    "Create new image",
			Operations:     []Operation{{"POST", "/v2/images"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "add_image", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "delete_image",
			CheckStr:       adminOrProjectMember,
			Description:    "Deletes the image",
			Operations:     []Operation{{"DELETE", "/v2/images/{image_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "delete_image", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "get_image",
			CheckStr:       adminOrProjectReaderGetImage,
			Description:    "Get specified image",
			Operations:     []Operation{{"GET", "/v2/images/{image_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_image", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "get_images",
			CheckStr:       adminOrProjectReader,
			Description:    "Get all available images",
			Operations:     []Operation{{"GET", "/v2/images"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_images", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "modify_image",
			CheckStr:       adminOrProjectMember,
			Description:    "Updates given image",
			Operations:     []Operation{{"PATCH", "/v2/images/{image_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "modify_image", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:        "publicize_image",
			CheckStr:    roleAdmin,
			Description: "Publicize given image",
			Operations:  []Operation{{"PATCH", "/v2/images/{image_id}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:           "communitize_image",
			CheckStr:       adminOrProjectMember,
			Description:    "Communitize given image",
			Operations:     []Operation{{"PATCH", "/v2/images/{image_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "communitize_image", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "download_image",
			CheckStr:       adminOrProjectMemberDownloadImage,
			Description:    "Downloads given image",
			Operations:     []Operation{{"GET", "/v2/images/{image_id}/file"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "download_image", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "upload_image",
			CheckStr:       adminOrProjectMember,
			Description:    "Uploads data to specified image",
			Operations:     []Operation{{"PUT", "/v2/images/{image_id}/file"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "upload_image", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "delete_image_location",
			CheckStr:       roleAdmin,
			Description:    "Deletes the location of given image",
			Operations:     []Operation{{"PATCH", "/v2/images/{image_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "delete_image_location", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "get_image_location",
			CheckStr:       adminOrProjectReader,
			Description:    "Reads the location of the image",
			Operations:     []Operation{{"GET", "/v2/images/{image_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_image_location", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "set_image_location",
			CheckStr:       adminOrProjectMember,
			Description:    "Sets location URI to given image",
			Operations:     []Operation{{"PATCH", "/v2/images/{image_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "set_image_location", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "add_member",
			CheckStr:       adminOrProjectMember,
			Description:    "Create image member",
			Operations:     []Operation{{"POST", "/v2/images/{image_id}/members"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "add_member", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "delete_member",
			CheckStr:       adminOrProjectMember,
			Description:    "Delete image member",
			Operations:     []Operation{{"DELETE", "/v2/images/{image_id}/members/{member_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "delete_member", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "get_member",
			CheckStr:       adminOrProjectReaderOrSharedMember,
			Description:    "Show image member details",
			Operations:     []Operation{{"GET", "/v2/images/{image_id}/members/{member_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_member", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "get_members",
			CheckStr:       adminOrProjectReaderOrSharedMember,
			Description:    "List image members",
			Operations:     []Operation{{"GET", "/v2/images/{image_id}/members"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_members", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "modify_member",
			CheckStr:       adminOrSharedMember,
			Description:    "Update image member",
			Operations:     []Operation{{"PUT", "/v2/images/{image_id}/members/{member_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "modify_member", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:        "manage_image_cache",
			CheckStr:    roleAdmin,
			Description: "Manage image cache",
			ScopeTypes:  projectScope(),
		},
		{
			Name:           "deactivate",
			CheckStr:       adminOrProjectMember,
			Description:    "Deactivate image",
			Operations:     []Operation{{"POST", "/v2/images/{image_id}/actions/deactivate"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "deactivate", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:           "reactivate",
			CheckStr:       adminOrProjectMember,
			Description:    "Reactivate image",
			Operations:     []Operation{{"POST", "/v2/images/{image_id}/actions/reactivate"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "reactivate", CheckStr: "rule:default", Reason: reasonImageRoles, Since: sinceWallaby},
		},
		{
			Name:        "copy_image",
			CheckStr:    roleAdmin,
			Description: "Copy existing image to other stores",
			Operations:  []Operation{{"POST", "/v2/images/{image_id}/import"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:           "get_task",
			CheckStr:       "rule:default",
			Description:    "Get an image task.\n" + descTask,
			Operations:     []Operation{{"GET", "/v2/tasks/{task_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_task", CheckStr: "rule:default", Reason: reasonTasksXena, Since: sinceXena},
		},
		{
			Name:           "get_tasks",
			CheckStr:       "rule:default",
			Description:    "List tasks for all images.\n" + descTask,
			Operations:     []Operation{{"GET", "/v2/tasks"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_tasks", CheckStr: "rule:default", Reason: reasonTasksXena, Since: sinceXena},
		},
		{
			Name:           "add_task",
			CheckStr:       "rule:default",
			Description:    "List tasks for all images.\n" + descTask,
			Operations:     []Operation{{"POST", "/v2/tasks"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "add_task", CheckStr: "rule:default", Reason: reasonTasksXena, Since: sinceXena},
		},
		{
			Name:                 "modify_task",
			CheckStr:             "rule:default",
			Description:          "This policy is not used.",
			Operations:           []Operation{{"DELETE", "/v2/tasks/{task_id}"}},
			ScopeTypes:           projectScope(),
			DeprecatedForRemoval: true,
			DeprecatedReason:     reasonModifyTask,
			DeprecatedSince:      sinceWallaby,
		},
		{
			Name:        "tasks_api_access",
			CheckStr:    roleAdmin,
			Description: descTasksAPIAccess,
			Operations:  []Operation{{"GET", "/v2/tasks/{task_id}"}, {"GET", "/v2/tasks"}, {"POST", "/v2/tasks"}, {"DELETE", "/v2/tasks/{task_id}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:     "metadef_default",
			CheckStr: "",
		},
		{
			Name:     "metadef_admin",
			CheckStr: roleAdmin,
		},
		{
			Name:           "get_metadef_namespace",
			CheckStr:       adminOrProjectReaderGetNamespace,
			Description:    "Get a specific namespace.",
			Operations:     []Operation{{"GET", "/v2/metadefs/namespaces/{namespace_name}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_metadef_namespace", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:           "get_metadef_namespaces",
			CheckStr:       adminOrProjectReader,
			Description:    "List namespace.",
			Operations:     []Operation{{"GET", "/v2/metadefs/namespaces"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_metadef_namespaces", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:        "modify_metadef_namespace",
			CheckStr:    "rule:metadef_admin",
			Description: "Modify an existing namespace.",
			Operations:  []Operation{{"PUT", "/v2/metadefs/namespaces/{namespace_name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "add_metadef_namespace",
			CheckStr:    "rule:metadef_admin",
			Description: "Create a namespace.",
			Operations:  []Operation{{"POST", "/v2/metadefs/namespaces"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "delete_metadef_namespace",
			CheckStr:    "rule:metadef_admin",
			Description: "Delete a namespace.",
			Operations:  []Operation{{"DELETE", "/v2/metadefs/namespaces/{namespace_name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:           "get_metadef_object",
			CheckStr:       adminOrProjectReaderGetNamespace,
			Description:    "Get a specific object from a namespace.",
			Operations:     []Operation{{"GET", "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_metadef_object", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:           "get_metadef_objects",
			CheckStr:       adminOrProjectReaderGetNamespace,
			Description:    "Get objects from a namespace.",
			Operations:     []Operation{{"GET", "/v2/metadefs/namespaces/{namespace_name}/objects"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_metadef_objects", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:        "modify_metadef_object",
			CheckStr:    "rule:metadef_admin",
			Description: "Update an object within a namespace.",
			Operations:  []Operation{{"PUT", "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "add_metadef_object",
			CheckStr:    "rule:metadef_admin",
			Description: "Create an object within a namespace.",
			Operations:  []Operation{{"POST", "/v2/metadefs/namespaces/{namespace_name}/objects"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "delete_metadef_object",
			CheckStr:    "rule:metadef_admin",
			Description: "Delete an object within a namespace.",
			Operations:  []Operation{{"DELETE", "/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:           "list_metadef_resource_types",
			CheckStr:       adminOrProjectReaderGetNamespace,
			Description:    "List meta definition resource types.",
			Operations:     []Operation{{"GET", "/v2/metadefs/resource_types"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "list_metadef_resource_types", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:           "get_metadef_resource_type",
			CheckStr:       adminOrProjectReaderGetNamespace,
			Description:    "Get meta definition resource types associations.",
			Operations:     []Operation{{"GET", "/v2/metadefs/namespaces/{namespace_name}/resource_types"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_metadef_resource_type", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:        "add_metadef_resource_type_association",
			CheckStr:    "rule:metadef_admin",
			Description: "Create meta definition resource types association.",
			Operations:  []Operation{{"POST", "/v2/metadefs/namespaces/{namespace_name}/resource_types"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "remove_metadef_resource_type_association",
			CheckStr:    "rule:metadef_admin",
			Description: "Delete meta definition resource types association.",
			Operations:  []Operation{{"POST", "/v2/metadefs/namespaces/{namespace_name}/resource_types/{name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:           "get_metadef_property",
			CheckStr:       adminOrProjectReaderGetNamespace,
			Description:    "Get a specific meta definition property.",
			Operations:     []Operation{{"GET", "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_metadef_property", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:           "get_metadef_properties",
			CheckStr:       adminOrProjectReaderGetNamespace,
			Description:    "List meta definition properties.",
			Operations:     []Operation{{"GET", "/v2/metadefs/namespaces/{namespace_name}/properties"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_metadef_properties", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:        "modify_metadef_property",
			CheckStr:    "rule:metadef_admin",
			Description: "Update meta definition property.",
			Operations:  []Operation{{"GET", "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "add_metadef_property",
			CheckStr:    "rule:metadef_admin",
			Description: "Create meta definition property.",
			Operations:  []Operation{{"POST", "/v2/metadefs/namespaces/{namespace_name}/properties"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "remove_metadef_property",
			CheckStr:    "rule:metadef_admin",
			Description: "Delete meta definition property.",
			Operations:  []Operation{{"DELETE", "/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:           "get_metadef_tag",
			CheckStr:       adminOrProjectReaderGetNamespace,
			Description:    "Get tag definition.",
			Operations:     []Operation{{"GET", "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_metadef_tag", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:           "get_metadef_tags",
			CheckStr:       adminOrProjectReaderGetNamespace,
			Description:    "List tag definitions.",
			Operations:     []Operation{{"GET", "/v2/metadefs/namespaces/{namespace_name}/tags"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "get_metadef_tags", CheckStr: "rule:metadef_default", Reason: reasonMetadefRoles, Since: sinceXena},
		},
		{
			Name:        "modify_metadef_tag",
			CheckStr:    "rule:metadef_admin",
			Description: "Update tag definition.",
			Operations:  []Operation{{"PUT", "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "add_metadef_tag",
			CheckStr:    "rule:metadef_admin",
			Description: "Add tag definition.",
			Operations:  []Operation{{"POST", "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "add_metadef_tags",
			CheckStr:    "rule:metadef_admin",
			Description: "Create tag definitions.",
			Operations:  []Operation{{"POST", "/v2/metadefs/namespaces/{namespace_name}/tags"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "delete_metadef_tag",
			CheckStr:    "rule:metadef_admin",
			Description: "Delete tag definition.",
			Operations:  []Operation{{"DELETE", "/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:        "delete_metadef_tags",
			CheckStr:    "rule:metadef_admin",
			Description: "Delete tag definitions.",
			Operations:  []Operation{{"DELETE", "/v2/metadefs/namespaces/{namespace_name}/tags"}},
			ScopeTypes:  projectScope(),
		},
		{
			Name:           "cache_image",
			CheckStr:       roleAdmin,
			Description:    "Queue image for caching",
			Operations:     []Operation{{"PUT", "/v2/cache/{image_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "cache_image", CheckStr: "rule:manage_image_cache", Reason: reasonImageRoles, Since: sinceXena},
		},
		{
			Name:           "cache_list",
			CheckStr:       roleAdmin,
			Description:    "List cache status",
			Operations:     []Operation{{"GET", "/v2/cache"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "cache_list", CheckStr: "rule:manage_image_cache", Reason: reasonImageRoles, Since: sinceXena},
		},
		{
			Name:           "cache_delete",
			CheckStr:       roleAdmin,
			Description:    "Delete image(s) from cache and/or queue",
			Operations:     []Operation{{"DELETE", "/v2/cache"}, {"DELETE", "/v2/cache/{image_id}"}},
			ScopeTypes:     projectScope(),
			DeprecatedRule: &DeprecatedRule{Name: "cache_delete", CheckStr: "rule:manage_image_cache", Reason: reasonImageRoles, Since: sinceXena},
		},
		{
			Name:        "stores_info_detail",
			CheckStr:    roleAdmin,
			Description: "Expose store specific information",
			Operations:  []Operation{{"GET", "/v2/info/stores/detail"}},
			ScopeTypes:  projectScope(),
		},
	}
}
