package obs

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Stores tells the metrics and traces of each store operation; it is
// the store.Observer a node's stores are given when either is on.
type Stores struct {
	Metrics *Metrics
	Tracing *Tracing
}

// Begin starts the span of op on store and returns the function that
// ends it and records it: n is the bytes moved (writes).
func (s Stores) Begin(ctx context.Context, store, op string) (context.Context, func(n int64, err error)) {
	start := time.Now()
	ctx, end := s.Tracing.Start(ctx, "store."+op, attribute.String("glint.store", store))
	return ctx, func(n int64, err error) {
		s.Metrics.StoreOp(store, op, n, time.Since(start), err != nil)
		end(err)
	}
}
