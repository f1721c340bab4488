// Package metadef is the metadata definitions catalog: namespaces of
// property definitions, objects and tags, and the resource types (images,
// volumes, flavors, aggregates) they apply to, as Glance's metadefs API
// serves them. The service checks policy and visibility; a Repo stores.
package metadef

import (
	"context"
	"encoding/json"
	"time"
)

// Namespace is a named group of definitions.
type Namespace struct {
	Namespace   string
	DisplayName string
	Description string
	Visibility  string // "public" or "private"
	Protected   bool
	Owner       string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Contents is what a namespace holds.
type Contents struct {
	Associations []Association
	Properties   []Item
	Objects      []Item
	Tags         []Item
}

// Kind names the three kinds of item a namespace holds.
type Kind int

// The item kinds.
const (
	Objects Kind = iota
	Properties
	Tags
)

func (k Kind) String() string {
	switch k {
	case Objects:
		return "object"
	case Properties:
		return "property"
	}
	return "tag"
}

// Item is an object, a property or a tag. Schema is an object's
// properties (a JSON object of property definitions) or a property's own
// definition without its name; tags have only a name.
type Item struct {
	Name        string
	Description string   // objects only
	Required    []string // objects only
	Schema      json.RawMessage
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ResourceType is a kind of resource that namespaces can apply to.
type ResourceType struct {
	Name      string
	Protected bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Association applies a namespace to a resource type: its properties
// are named with Prefix there, and PropertiesTarget says which of the
// resource's property sets they go to (Cinder's "image" for volume
// image metadata).
type Association struct {
	Name             string
	Prefix           string
	PropertiesTarget string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// NamespaceQuery selects namespaces to list.
type NamespaceQuery struct {
	// AllVisible lists every namespace; otherwise public ones and those
	// owned by Owner.
	AllVisible    bool
	Owner         string
	Visibility    string   // "" for any
	ResourceTypes []string // any of; empty for all
	Marker        string   // namespace name
	Limit         int
	SortKey       string // namespace, created_at, updated_at
	SortDesc      bool
}

// TagQuery pages tags.
type TagQuery struct {
	Marker   string
	Limit    int
	SortKey  string // name, created_at, updated_at
	SortDesc bool
}

// Repo stores the catalog. Namespace-scoped calls name the namespace;
// a missing namespace or item is an errs.NotFound, a duplicate an
// errs.Conflict (with Glance's message).
type Repo interface {
	ListNamespaces(ctx context.Context, q NamespaceQuery) ([]*Namespace, error)
	GetNamespace(ctx context.Context, name string) (*Namespace, error)
	// CreateNamespace stores ns and, in the same transaction, c.
	CreateNamespace(ctx context.Context, ns *Namespace, c *Contents) error
	UpdateNamespace(ctx context.Context, name string, ns *Namespace) error
	DeleteNamespace(ctx context.Context, name string) error
	Contents(ctx context.Context, name string) (*Contents, error)

	ListItems(ctx context.Context, k Kind, ns string, q TagQuery) ([]Item, error)
	GetItem(ctx context.Context, k Kind, ns, name string) (Item, error)
	// CreateItems adds items; replace first removes every item of kind k.
	CreateItems(ctx context.Context, k Kind, ns string, items []Item, replace bool) error
	UpdateItem(ctx context.Context, k Kind, ns, name string, it Item) error
	DeleteItem(ctx context.Context, k Kind, ns, name string) error
	DeleteItems(ctx context.Context, k Kind, ns string) error

	ListResourceTypes(ctx context.Context) ([]ResourceType, error)
	// CreateAssociation adds the resource type itself when it is new.
	CreateAssociation(ctx context.Context, ns string, a Association) error
	DeleteAssociation(ctx context.Context, ns, resourceType string) error
}
