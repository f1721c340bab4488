package config

import "math"

// OsloLimit is [oslo_limit]: how Glint reads Keystone's unified limits
// when [DEFAULT] use_keystone_limits is on, as oslo.limit does for
// Glance: keystoneauth's password and application credential options,
// its session options, and the endpoint whose limits apply.
type OsloLimit struct {
	AuthURL                     string // auth_url
	AuthType                    string // auth_type, default "" (password)
	AuthSection                 string // auth_section (not supported: an error when set)
	Username                    string // username
	UserID                      string // user_id
	Password                    string // password
	UserDomainName              string // user_domain_name
	UserDomainID                string // user_domain_id
	ProjectName                 string // project_name
	ProjectID                   string // project_id
	ProjectDomainName           string // project_domain_name
	ProjectDomainID             string // project_domain_id
	DomainName                  string // domain_name
	DomainID                    string // domain_id
	DefaultDomainName           string // default_domain_name
	DefaultDomainID             string // default_domain_id
	SystemScope                 string // system_scope
	TrustID                     string // trust_id (not supported: an error when set)
	ApplicationCredentialID     string // application_credential_id
	ApplicationCredentialName   string // application_credential_name
	ApplicationCredentialSecret string // application_credential_secret
	EndpointID                  string // endpoint_id
	EndpointServiceType         string // endpoint_service_type
	EndpointServiceName         string // endpoint_service_name
	EndpointRegionName          string // endpoint_region_name
	EndpointInterface           string // endpoint_interface, default public
	CAFile                      string // cafile
	CertFile                    string // certfile
	KeyFile                     string // keyfile
	Insecure                    bool   // insecure
	Timeout                     int    // timeout (seconds; 0: 30)
	ConnectRetries              int    // connect_retries, default 0 (keystoneauth's None)
	CacheTime                   int    // [glint] keystone_limits_cache_time, seconds, default 30
}

func init() { options = append(options, osloLimitOptions...) }

func olStr(name, help string, field func(*OsloLimit) *string) optDef {
	return stringOpt("oslo_limit", name, "", help, func(c *Config) *string { return field(&c.OsloLimit) }, nil)
}

// osloLimitOptions are [oslo_limit]'s options Glint honours (and the
// refresh of what it read).
var osloLimitOptions = []optDef{
	olStr("auth_url", "Keystone identity URL the limits are read from (e.g. http://controller:5000); required with use_keystone_limits.",
		func(o *OsloLimit) *string { return &o.AuthURL }),
	stringOpt("oslo_limit", "auth_type", "",
		"How Glint authenticates to read limits: password (also when empty), v3password or v3applicationcredential.",
		func(c *Config) *string { return &c.OsloLimit.AuthType }, oneOf("", "password", "v3password", "v3applicationcredential")),
	olStr("auth_section", "keystoneauth's pointer to another section holding the options; not supported: Glint refuses to start when it is set (write the options in [oslo_limit]).",
		func(o *OsloLimit) *string { return &o.AuthSection }),
	olStr("username", "User Glint reads limits as (the glance service user; it needs the reader role on the system scope).",
		func(o *OsloLimit) *string { return &o.Username }),
	olStr("user_id", "Id of that user (instead of username).",
		func(o *OsloLimit) *string { return &o.UserID }),
	olStr("password", "That user's password.",
		func(o *OsloLimit) *string { return &o.Password }),
	olStr("user_domain_name", "Domain name of username; empty (and no user_domain_id or default_domain_*) means the domain with id default.",
		func(o *OsloLimit) *string { return &o.UserDomainName }),
	olStr("user_domain_id", "Domain id of username.",
		func(o *OsloLimit) *string { return &o.UserDomainID }),
	olStr("project_name", "Project to scope the token to (when system_scope is empty).",
		func(o *OsloLimit) *string { return &o.ProjectName }),
	olStr("project_id", "Id of the project to scope the token to (instead of project_name).",
		func(o *OsloLimit) *string { return &o.ProjectID }),
	olStr("project_domain_name", "Domain name of project_name.",
		func(o *OsloLimit) *string { return &o.ProjectDomainName }),
	olStr("project_domain_id", "Domain id of project_name.",
		func(o *OsloLimit) *string { return &o.ProjectDomainID }),
	olStr("domain_name", "Domain to scope the token to (when neither system_scope nor a project is given).",
		func(o *OsloLimit) *string { return &o.DomainName }),
	olStr("domain_id", "Id of the domain to scope the token to.",
		func(o *OsloLimit) *string { return &o.DomainID }),
	olStr("default_domain_name", "Domain name for the user and the project when their own is not given.",
		func(o *OsloLimit) *string { return &o.DefaultDomainName }),
	olStr("default_domain_id", "Domain id for the user and the project when their own is not given.",
		func(o *OsloLimit) *string { return &o.DefaultDomainID }),
	stringOpt("oslo_limit", "system_scope", "",
		"Scope the token to the system: all (what oslo.limit's documentation asks for, with the reader role).",
		func(c *Config) *string { return &c.OsloLimit.SystemScope }, oneOf("", "all")),
	olStr("trust_id", "keystoneauth's trust scope; not supported: Glint refuses to start when it is set.",
		func(o *OsloLimit) *string { return &o.TrustID }),
	olStr("application_credential_id", "Application credential to authenticate with (auth_type v3applicationcredential).",
		func(o *OsloLimit) *string { return &o.ApplicationCredentialID }),
	olStr("application_credential_name", "Name of the application credential (with username or user_id), instead of its id.",
		func(o *OsloLimit) *string { return &o.ApplicationCredentialName }),
	olStr("application_credential_secret", "Secret of the application credential.",
		func(o *OsloLimit) *string { return &o.ApplicationCredentialSecret }),
	olStr("endpoint_id", "Keystone id of the image endpoint whose service and region the limits are read for; or else the endpoint_service_* lookup.",
		func(o *OsloLimit) *string { return &o.EndpointID }),
	olStr("endpoint_service_type", "Without endpoint_id: type of the service (image) whose one endpoint on endpoint_interface in endpoint_region_name is looked up.",
		func(o *OsloLimit) *string { return &o.EndpointServiceType }),
	olStr("endpoint_service_name", "Without endpoint_id: name of that service (with or instead of its type).",
		func(o *OsloLimit) *string { return &o.EndpointServiceName }),
	olStr("endpoint_region_name", "Without endpoint_id: region of that endpoint; empty means any region.",
		func(o *OsloLimit) *string { return &o.EndpointRegionName }),
	stringOpt("oslo_limit", "endpoint_interface", "public",
		"Without endpoint_id: interface of that endpoint: public, internal or admin (publicURL, internalURL, adminURL also accepted).",
		func(c *Config) *string { return &c.OsloLimit.EndpointInterface },
		oneOf("public", "publicURL", "internal", "internalURL", "admin", "adminURL")),
	olStr("cafile", "PEM file of CA certificates to verify Keystone's HTTPS certificate with; empty means the system's.",
		func(o *OsloLimit) *string { return &o.CAFile }),
	olStr("certfile", "PEM client certificate presented to Keystone (with keyfile).",
		func(o *OsloLimit) *string { return &o.CertFile }),
	olStr("keyfile", "PEM key of certfile.",
		func(o *OsloLimit) *string { return &o.KeyFile }),
	boolOpt("oslo_limit", "insecure", false,
		"Do not verify Keystone's HTTPS certificate.",
		func(c *Config) *bool { return &c.OsloLimit.Insecure }),
	intOpt("oslo_limit", "timeout", 0, 0, math.MaxInt32,
		"Seconds to wait for one answer of Keystone; 0 means 30.",
		func(c *Config) *int { return &c.OsloLimit.Timeout }),
	intOpt("oslo_limit", "connect_retries", 0, 0, math.MaxInt32,
		"Retries of a Keystone request that failed to connect.",
		func(c *Config) *int { return &c.OsloLimit.ConnectRetries }),
	intOpt("glint", "keystone_limits_cache_time", 30, 1, math.MaxInt32,
		"Seconds the unified limits read from Keystone are used before they are read again (>= 1): a limit changed in Keystone is in force on every node within this time. When Keystone cannot be reached, the last limits read stay in force; with none read yet, new usage is refused (503).",
		func(c *Config) *int { return &c.OsloLimit.CacheTime }),
}
