package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/imageformat"
	"glint/internal/store"
)

// importStores decides which stores an import writes to, with Glance's
// rules for stores, all_stores and X-Image-Meta-Store (only read under
// enabled_backends). Without enabled_backends the answer is one unnamed
// store: the default. For copy-image the stores already holding the image
// are checked (explicit stores) or skipped (all_stores); an empty answer
// then means there is nothing to copy.
func (im *Importer) importStores(img *image.Image, req *Request) ([]string, error) {
	const op errs.Op = "importer.Import"
	if !im.opts.MultiStore {
		if req.Method == MethodCopyImage {
			// One store, which holds the image already (Glance fails
			// with a 500 here; it copies only under enabled_backends).
			if req.AllStores {
				return nil, nil
			}
			return nil, errs.Errorf(op, errs.Invalid, "Image is already present at store '%s'", im.stores.Default().Driver.Scheme())
		}
		return []string{""}, nil
	}
	set := im.stores
	_, hasStores := req.Raw["stores"]
	var names []string
	switch {
	case req.AllStores:
		if hasStores || req.HeaderStore != "" {
			return nil, errs.E(op, errs.Invalid, "All_stores parameter can't be used with x-image-meta-store header or stores parameter")
		}
		// Glance leaves out the read-only HTTP store (and its reserved
		// staging and tasks stores, which Glint does not have).
		for _, st := range set.Stores() {
			if !st.ReadOnly() {
				names = append(names, st.Name)
			}
		}
	case hasStores:
		if req.HeaderStore != "" {
			return nil, errs.E(op, errs.Invalid, "Stores parameter and x-image-meta-store header can't be both specified")
		}
		names = req.Stores
	case req.HeaderStore != "":
		names = []string{req.HeaderStore}
	default:
		names = []string{set.DefaultName()}
	}
	var out []string
	for _, n := range names {
		st, err := set.Named(n)
		if err != nil {
			// Glance answers an unknown store in an import with 409 (an
			// upload's X-Image-Meta-Store with 400), in glance_store's words.
			return nil, errs.E(op, errs.Conflict, errs.Message(err))
		}
		if st.ReadOnly() {
			// Glint: Glance accepts the request and the task fails when
			// glance_store refuses the write.
			return nil, errs.Errorf(op, errs.Invalid, "Store %s is read-only", n)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if req.Method == MethodCopyImage {
		held := im.heldStores(img)
		if req.AllStores {
			out = slices.DeleteFunc(out, func(n string) bool { return slices.Contains(held, n) })
			return out, nil
		}
		for _, n := range out {
			if slices.Contains(held, n) {
				return nil, errs.Errorf(op, errs.Invalid, "Image is already present at store '%s'", n)
			}
		}
	}
	if len(out) == 0 {
		// Glint: Glance starts a task that fails ("None of the uploads
		// finished!"), or for copy-image succeeds doing nothing.
		return nil, errs.E(op, errs.Invalid, "'stores' must name at least one store")
	}
	return out, nil
}

// heldStores lists the stores holding an image's data.
func (im *Importer) heldStores(img *image.Image) []string {
	var out []string
	for _, l := range img.ActiveLocations() {
		if n := l.Store(im.stores); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// mergeStores is Glance's store list property arithmetic: the sorted,
// comma-separated union of list and add, less remove.
func mergeStores(list string, add, remove []string) string {
	set := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		if s != "" {
			set[s] = true
		}
	}
	for _, s := range add {
		if s != "" {
			set[s] = true
		}
	}
	for _, s := range remove {
		delete(set, s)
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// storeError is a failure to write to one store, which
// all_stores_must_succeed=false tolerates; other errors (unsafe data, a
// hash that does not match) fail the whole import.
type storeError struct {
	store string
	err   error
}

func (e *storeError) Error() string { return fmt.Sprintf("store %s: %v", e.store, e.err) }
func (e *storeError) Unwrap() error { return e.err }

// written is what one store write produced.
type written struct {
	store.Written
	storeName string
}

// writeToStore streams src into st, which hashes and inspects it on the
// way; name is st's name in the task ("" for the default store without
// enabled_backends).
func (im *Importer) writeToStore(ctx context.Context, j *job, st *store.Store, name string, src io.Reader, size int64, algo string) (*written, error) {
	const op errs.Op = "importer.writeToStore"
	// The store's pipe reads on its own goroutine: report progress on a
	// snapshot of the task.
	snap := *j.task
	pr := &progressReader{r: src, every: progressEvery, report: func(n int64) { im.progress(ctx, &snap, n) }}
	w, err := st.Write(ctx, deref(j.task.ImageID), pr, size, algo)
	if err != nil {
		if im.ctx.Err() != nil {
			return nil, err // shutting down: not this store's fault
		}
		return nil, &storeError{name, errs.E(op, err)}
	}
	return &written{Written: w, storeName: name}, nil
}

// target is the store an import writes to under the name it has in the
// task: "" is the default store (no enabled_backends).
func (im *Importer) target(name string) (*store.Store, error) {
	if name == "" {
		return im.stores.Default(), nil
	}
	st, err := im.stores.Named(name)
	if err != nil {
		return nil, &storeError{name, errs.E(errs.Op("importer.importToStores"), err)}
	}
	return st, nil
}

// storeFailure records one store's failure on the image
// (os_glance_failed_import) and takes it off os_glance_importing_to_stores.
func (im *Importer) storeFailure(ctx context.Context, j *job, name string) {
	if name == "" {
		return
	}
	if _, err := im.saveLocked(ctx, j.task, func(n *image.Image) error {
		n.Properties[image.PropImportingStores] = mergeStores(n.Properties[image.PropImportingStores], nil, []string{name})
		n.Properties[image.PropFailedImport] = mergeStores(n.Properties[image.PropFailedImport], []string{name}, nil)
		return nil
	}); err != nil {
		im.log.WarnContext(ctx, "could not record a failed store", "image_id", deref(j.task.ImageID), "store", name, "err", err)
	}
}

// revertStores removes, as Glance's revert does, the copies this import
// wrote (all_stores_must_succeed and a store failed).
func (im *Importer) revertStores(ctx context.Context, j *job, done []*written) {
	if len(done) == 0 {
		return
	}
	id := deref(j.task.ImageID)
	_, err := im.saveLocked(ctx, j.task, func(n *image.Image) error {
		n.Locations = slices.DeleteFunc(n.Locations, func(l image.Location) bool {
			return slices.ContainsFunc(done, func(w *written) bool { return w.Location == l.URL })
		})
		return nil
	})
	if err != nil && !errs.Is(errs.NotFound, err) {
		im.log.WarnContext(ctx, "could not remove the locations of a failed import", "image_id", id, "err", err)
	}
	for _, w := range done {
		im.s.DeleteData(ctx, id, w.Location)
	}
}

// copySource opens the data of an active image for copy-image: the
// default store's copy first, then the others, as Glance looks for it.
func (im *Importer) copySource(ctx context.Context, img *image.Image) (io.ReadCloser, error) {
	const op errs.Op = "importer.copySource"
	locs := img.ActiveLocations()
	def := im.stores.DefaultName()
	sort.SliceStable(locs, func(a, b int) bool {
		return im.locStore(locs[a]) == def && im.locStore(locs[b]) != def
	})
	var last error
	for _, l := range locs {
		st, err := im.stores.For(l.URL)
		if err != nil {
			last = err
			continue
		}
		rc, err := st.Open(ctx, l.URL, 0)
		if err != nil {
			last = err
			im.log.WarnContext(ctx, "copy-image: could not read a copy, trying the next", "image_id", img.ID,
				"location", store.Redact(l.URL), "err", err)
			continue
		}
		return rc, nil
	}
	return nil, errs.E(op, errs.NotFound, "Image not found in any configured store", last)
}

func (im *Importer) locStore(l image.Location) string { return l.Store(im.stores) }

// importToStores writes the data to each of the job's stores in turn,
// keeping os_glance_importing_to_stores and os_glance_failed_import up
// to date, with Glance's all_stores_must_succeed rules: when it is true
// one failure fails the import and removes the copies already written;
// when false the image becomes active with the first copy and the
// failures are only listed. open returns the data for one more store.
func (im *Importer) importToStores(ctx context.Context, j *job, open func() (io.ReadCloser, int64, error)) error {
	const op errs.Op = "importer.importToStores"
	id := deref(j.task.ImageID)
	img, err := im.repo.Get(ctx, id)
	if err != nil {
		return err
	}
	copying := j.req.Method == MethodCopyImage
	algo := im.s.HashingAlgorithm()
	if copying && img.OSHashAlgo != nil && *img.OSHashAlgo != "" {
		algo = *img.OSHashAlgo // compare with the image's own hash
	}
	inspected := !copying && img.ContainerFormat != nil && *img.ContainerFormat == "bare" && img.DiskFormat != nil
	m, _ := j.req.Raw["method"].(map[string]any)
	wantHash, _ := m["os_hash_value"].(string)

	var done []*written
	var first *written
	var lastErr error
	cur := img // the image as this import last saved it, for the notifications
	for i, name := range j.stores {
		if err := ctx.Err(); err != nil {
			im.revertStores(ctx, j, done)
			return err
		}
		src, size, err := open()
		if err != nil {
			im.revertStores(ctx, j, done)
			return err
		}
		st, err := im.target(name)
		var w *written
		if err == nil {
			im.s.NotifyImport(ctx, "image.prepare", cur, name)
			w, err = im.writeToStore(ctx, j, st, name, src, size, algo)
		}
		src.Close()
		if err == nil {
			err = im.checkWritten(op, img, first, w, inspected, copying, wantHash)
			if err != nil {
				im.deleteWritten(ctx, id, st, w.Location)
				var se *storeError
				if !errors.As(err, &se) {
					im.revertStores(ctx, j, done)
					return err
				}
			}
		}
		if err != nil {
			var se *storeError
			if !errors.As(err, &se) || j.req.AllStoresMustSucceed {
				im.log.WarnContext(ctx, "import to a store failed", "image_id", id, "store", name, "err", err)
				im.storeFailure(ctx, j, name)
				im.revertStores(ctx, j, done)
				if se != nil && name != "" {
					return errs.E(op, errs.KindOf(se.err), fmt.Sprintf("Import to store %s failed: %s", name, messageOf(se.err)), err)
				}
				return err
			}
			im.log.WarnContext(ctx, "import to a store failed; all_stores_must_succeed is false, going on", "image_id", id, "store", name, "err", err)
			im.storeFailure(ctx, j, name)
			lastErr = err
			continue
		}
		if first == nil {
			first = w
		}
		setActive := !copying && (!j.req.AllStoresMustSucceed || i == len(j.stores)-1)
		wasActive := cur.Status == image.Active
		cur, err = im.modifyLocked(ctx, j.task, func(n *image.Image) error {
			if !copying && n.Status != image.Importing && n.Status != image.Active {
				return errs.Errorf(op, errs.Conflict, "Image status transition from %s to active is not allowed", n.Status)
			}
			if copying && n.Status != image.Active {
				return errs.Errorf(op, errs.Conflict, "Image is %s: copy abandoned", n.Status)
			}
			if !copying && first == w {
				n.Size = &w.Size
				n.Checksum, n.OSHashAlgo, n.OSHashValue = &w.Checksum, &w.HashAlgo, &w.HashValue
				if vs := w.Format.VirtualSizeFor(deref(n.DiskFormat)); inspected && vs > 0 {
					n.VirtualSize = &vs
				}
			}
			md := map[string]any{}
			if name != "" {
				md["store"] = name
			}
			n.Locations = append(n.Locations, image.Location{URL: w.Location, Metadata: md, Status: "active"})
			n.Properties[image.PropImportingStores] = mergeStores(n.Properties[image.PropImportingStores], nil, []string{name})
			if setActive {
				n.Status = image.Active
			}
			return nil
		})
		if err != nil {
			im.deleteWritten(ctx, id, st, w.Location)
			im.revertStores(ctx, j, done)
			return err
		}
		// Glance's order: the data is in (image.upload), the image
		// becomes active (image.activate), the image is saved.
		im.s.NotifyImport(ctx, "image.upload", cur, "")
		if setActive && !wasActive {
			im.s.NotifyImage(ctx, "image.activate", cur, nil)
		}
		im.s.NotifyImage(ctx, "image.update", cur, nil)
		done = append(done, w)
	}
	if first == nil && !copying {
		// Every store failed (all_stores_must_succeed false).
		return errs.E(op, errs.Unavailable, "None of the uploads finished!", lastErr)
	}
	final, err := im.modifyLocked(ctx, j.task, func(n *image.Image) error {
		if !copying && n.Status != image.Active {
			return errs.Errorf(op, errs.Conflict, "Image status transition from %s to active is not allowed", n.Status)
		}
		n.Properties[image.PropImportingStores] = ""
		if !im.opts.MultiStore {
			n.Properties[image.PropFailedImport] = ""
		}
		delete(n.Properties, image.PropImportTask)
		return nil
	})
	if err != nil {
		if !copying {
			im.revertStores(ctx, j, done)
		}
		return err
	}
	im.s.NotifyImage(ctx, "image.update", final, nil)
	if err := im.finishTask(ctx, j.task, TaskSuccess, map[string]any{"image_id": id}, ""); err != nil {
		im.log.ErrorContext(ctx, "import done but its task could not be marked successful", "task_id", j.task.ID, "err", err)
	}
	return nil
}

// checkWritten checks one store's copy. The first must be safe and of
// the declared format (imports) and match the hash the user gave
// (web-download): if not, the import fails whatever the stores. Every
// copy must be the same data as the copies already made or, for
// copy-image, as the image records (Glance's "… of uploaded data is
// different from current value set on the image."): that fails the store.
func (im *Importer) checkWritten(op errs.Op, img *image.Image, first, w *written, inspected, copying bool, wantHash string) error {
	if first == nil && inspected {
		if cerr := imageformat.Check(w.Format, *img.DiskFormat); cerr != nil {
			return errs.E(op, errs.BadFormat, errs.Message(cerr), cerr)
		}
	}
	if first == nil && wantHash != "" && !strings.EqualFold(wantHash, w.HashValue) {
		return errs.Errorf(op, errs.Invalid, "os_hash_value %s does not match the downloaded data's %s %s", wantHash, w.HashAlgo, w.HashValue)
	}
	ref := first
	if copying {
		ref = &written{Written: store.Written{Size: deref64(img.Size), Checksum: deref(img.Checksum), HashValue: deref(img.OSHashValue)}}
	}
	if ref == nil {
		return nil
	}
	for _, c := range []struct {
		attr      string
		want, got string
	}{
		{"size", fmt.Sprint(ref.Size), fmt.Sprint(w.Size)},
		{"checksum", ref.Checksum, w.Checksum},
		{"os_hash_value", ref.HashValue, w.HashValue},
	} {
		if c.want != "" && c.want != c.got {
			return &storeError{w.storeName, errs.Errorf(op, errs.Invalid, "%s of uploaded data is different from current value set on the image.", c.attr)}
		}
	}
	return nil
}

// messageOf is the words of err for a task message.
func messageOf(err error) string {
	if m := errs.Message(err); m != "" {
		return m
	}
	return err.Error()
}

func deref64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// openStaged returns the staged data, for each store in turn.
func (im *Importer) openStaged(staged string) func() (io.ReadCloser, int64, error) {
	return func() (io.ReadCloser, int64, error) {
		const op errs.Op = "importer.importToStore"
		f, err := os.Open(staged)
		if err != nil {
			return nil, 0, errs.E(op, errs.NotFound, "Staged image data not found", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		if st.Size() > im.s.SizeCap() {
			f.Close()
			return nil, 0, errs.Errorf(op, errs.TooLarge, "The incoming image is too large: %d bytes, and the limit is %d.", st.Size(), im.s.SizeCap())
		}
		return f, st.Size(), nil
	}
}

// copyImage is copy-image: the image's data, read from one of its
// copies, streamed straight into each target store. Glint: Glance copies
// it into the staging area first and from there to the stores.
func (im *Importer) copyImage(ctx context.Context, j *job) error {
	img, err := im.repo.Get(ctx, deref(j.task.ImageID))
	if err != nil {
		return err
	}
	return im.importToStores(ctx, j, func() (io.ReadCloser, int64, error) {
		rc, err := im.copySource(ctx, img)
		if err != nil {
			return nil, 0, err
		}
		size := int64(-1)
		if img.Size != nil {
			size = *img.Size
		}
		return rc, size, nil
	})
}

// backendInput is the task input's "backend": the stores, or [None]
// without enabled_backends, as Glance records it.
func backendInput(stores []string) []any {
	out := make([]any, 0, len(stores))
	for _, s := range stores {
		if s == "" {
			out = append(out, nil)
		} else {
			out = append(out, s)
		}
	}
	return out
}

// deleteWritten removes data just written to st that no image will have.
func (im *Importer) deleteWritten(ctx context.Context, id string, st *store.Store, loc string) {
	if err := st.Delete(context.WithoutCancel(ctx), loc); err != nil {
		im.log.ErrorContext(ctx, "could not delete image data; it is orphaned", "image_id", id, "location", store.Redact(loc), "err", err)
	}
}
