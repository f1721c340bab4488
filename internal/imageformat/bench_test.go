package imageformat

import "testing"

// BenchmarkWrite measures the cost the inspector adds to an upload: 64 KiB
// writes of a qcow2 image (the tee's usual chunk size).
func BenchmarkWrite(b *testing.B) {
	img := append(craftQcow2(3, 1<<30, 0, 0), make([]byte, 8<<20)...)
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		ins := New()
		for p := img; len(p) > 0; {
			n := min(len(p), 64<<10)
			_, _ = ins.Write(p[:n])
			p = p[n:]
		}
		if ins.Result().Format != "qcow2" {
			b.Fatal("not qcow2")
		}
	}
}

// BenchmarkFuzzBody is one execution of the fuzz body on the largest seed.
func BenchmarkFuzzBody(b *testing.B) {
	data := craftVHDX(vhdxSpec{metaOff: 256 << 10, size: 1 << 30})
	for b.Loop() {
		ins := New()
		_, _ = ins.Write(data)
		r := ins.Result()
		for _, df := range diskFormats {
			_ = Check(r, df)
		}
	}
}
