package api

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"glint/internal/image"
	"glint/internal/store"
)

// appendImage writes an image as Glance shows it: custom properties
// first, then the core fields. It is written by hand because encoding a
// map per image (sorting its keys by reflection) was a quarter of the CPU
// of a listing.
func (s *Server) appendImage(b []byte, img *image.Image) []byte {
	b = append(b, '{')
	keys := make([]string, 0, len(img.Properties))
	for k := range img.Properties {
		if k != "os_glance_stage_host" { // Glance's own, never shown
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, img.Properties[k])
		b = append(b, ',')
	}
	str := func(name, v string) {
		b = appendString(append(b, `"`+name+`":`...), v)
		b = append(b, ',')
	}
	optStr := func(name string, v *string) {
		if v == nil {
			b = append(b, `"`+name+`":null,`...)
			return
		}
		str(name, *v)
	}
	optInt := func(name string, v *int64) {
		b = append(b, `"`+name+`":`...)
		if v == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, *v, 10)
		}
		b = append(b, ',')
	}
	optStr("name", img.Name)
	optStr("disk_format", img.DiskFormat)
	optStr("container_format", img.ContainerFormat)
	str("visibility", img.Visibility)
	optInt("size", img.Size)
	optInt("virtual_size", img.VirtualSize)
	str("status", string(img.Status))
	optStr("checksum", img.Checksum)
	b = strconv.AppendBool(append(b, `"protected":`...), img.Protected)
	b = append(b, ',')
	b = strconv.AppendInt(append(b, `"min_ram":`...), int64(img.MinRAM), 10)
	b = append(b, ',')
	b = strconv.AppendInt(append(b, `"min_disk":`...), int64(img.MinDisk), 10)
	b = append(b, ',')
	optStr("owner", img.Owner)
	b = strconv.AppendBool(append(b, `"os_hidden":`...), img.OSHidden)
	b = append(b, ',')
	optStr("os_hash_algo", img.OSHashAlgo)
	optStr("os_hash_value", img.OSHashValue)
	str("id", img.ID)
	b = append(b, `"created_at":"`...)
	b = img.CreatedAt.UTC().AppendFormat(b, timeLayout)
	b = append(b, `","updated_at":"`...)
	b = img.UpdatedAt.UTC().AppendFormat(b, timeLayout)
	b = append(b, `","tags":[`...)
	for i, t := range img.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, t)
	}
	b = append(b, "],"...)
	locs := img.ActiveLocations()
	if s.cfg.ShowImageDirectURL && len(locs) > 0 {
		str("direct_url", store.Redact(locs[0].URL))
	}
	if s.multiStore() {
		if names := s.storeNames(img); names != "" {
			str("stores", names)
		}
	}
	if s.cfg.ShowMultipleLocations {
		b = append(b, `"locations":[`...)
		for i, l := range locs {
			if i > 0 {
				b = append(b, ',')
			}
			meta, err := marshalNoEscape(l.Metadata)
			if err != nil || l.Metadata == nil {
				meta = []byte("{}")
			}
			// Credentials a store writes into its URLs (S3, single-tenant
			// Swift) are never shown; Update maps the shown form back.
			b = appendString(append(b, `{"url":`...), store.Redact(l.URL))
			b = append(append(append(b, `,"metadata":`...), meta...), '}')
		}
		b = append(b, "],"...)
	}
	b = appendString(append(b, `"self":`...), "/v2/images/"+img.ID)
	b = appendString(append(b, `,"file":`...), "/v2/images/"+img.ID+"/file")
	return append(b, `,"schema":"/v2/schemas/image"}`...)
}

// writeImage answers with one image.
func (s *Server) writeImage(w http.ResponseWriter, status int, img *image.Image) {
	b := s.bufs.get()
	*b = s.appendImage(*b, img)
	writeRawJSON(w, status, *b)
	s.bufs.put(b)
}

// bufPool holds the buffers image bodies are rendered into. Under load a
// new buffer per response was most of the garbage of a list of 200 (and
// so of the heap's growth between collections); reused, they cost nothing.
type bufPool struct{ p sync.Pool }

// maxPooledBuf bounds what goes back to the pool: a list of 1000 images
// (~1.5 MB) is rare enough not to keep.
const maxPooledBuf = 512 << 10

func (bp *bufPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (bp *bufPool) put(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		*b = (*b)[:0]
		bp.p.Put(b)
	}
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping off: control characters, quotes, backslashes, U+2028 and
// U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
