package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a CA the test makes, and certificates it signed.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	pool   *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "glint test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{dir: t.TempDir(), ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *testPKI) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue makes a certificate for 127.0.0.1 (server) or a client, and
// returns its files and the tls.Certificate.
func (p *testPKI) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile = p.write(t, name+".pem", "CERTIFICATE", der)
	keyFile = p.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// startTLS runs glint serve with conf added to its configuration and waits
// until client gets an answer from /healthcheck over HTTPS.
func startTLS(t *testing.T, dir, conf string, client *http.Client) *server {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{URL: fmt.Sprintf("https://127.0.0.1:%d", port), tmp: filepath.Join(dir, "scratch"),
		conf: filepath.Join(dir, "glance-api.conf"), logPath: filepath.Join(dir, "glint.log"), dataDir: filepath.Join(dir, "data")}
	os.MkdirAll(s.tmp, 0o755)
	text := fmt.Sprintf("[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = %d\n%s\n[glint]\ndata_dir = %s\n", port, conf, s.dataDir)
	if err := os.WriteFile(s.conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, _ := os.Create(s.logPath)
	cmd := exec.Command(glintBin, "serve", "--config-file", s.conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			t.Logf("glint log:\n%s", s.log())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := client.Get(s.URL + "/healthcheck"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("glint did not answer over HTTPS within 30s:\n%s", s.log())
		}
	}
}

// TestServeTLS: glint serve with cert_file and key_file answers HTTPS
// only, links to itself with https, and the real openstack CLI uploads and
// downloads through it trusting the test's CA; with ca_file it also
// requires a client certificate that CA signed.
func TestServeTLS(t *testing.T) {
	skipShort(t)
	pki := newPKI(t)
	certFile, keyFile, _ := pki.issue(t, "server", x509.ExtKeyUsageServerAuth)
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}

	t.Run("https", func(t *testing.T) {
		dir := t.TempDir()
		s := startTLS(t, dir, fmt.Sprintf("cert_file = %s\nkey_file = %s\n", certFile, keyFile), trusting)
		req, _ := http.NewRequest("POST", s.URL+"/v2/images", strings.NewReader(`{"name":"tls"}`))
		res, err := trusting.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 201 || !strings.HasPrefix(res.Header.Get("Location"), "https://127.0.0.1:") {
			t.Errorf("create over HTTPS: %d, Location %q", res.StatusCode, res.Header.Get("Location"))
		}
		// Plain HTTP on the HTTPS port gets no Image API answer.
		plain := strings.Replace(s.URL, "https://", "http://", 1)
		if res, err := http.Get(plain + "/versions"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				t.Errorf("plain HTTP answered 200 on the HTTPS port")
			}
		}
		// An untrusted certificate is refused by a verifying client.
		if _, err := http.Get(s.URL + "/versions"); err == nil {
			t.Errorf("a client without the test CA trusted the server")
		}

		requireCLI(t)
		img := filepath.Join(dir, "img.raw")
		os.WriteFile(img, []byte(strings.Repeat("tls!", 4096)), 0o644)
		cli := func(args ...string) cliResult {
			return s.runCLI(t, cliTimeout, openstackBin, append([]string{"--os-auth-type", "none", "--os-endpoint", s.URL, "--os-cacert", pki.caFile}, args...)...)
		}
		out := jsonOut[map[string]any](t, must(t, cli("image", "create", "--disk-format", "raw", "--container-format", "bare", "--file", img, "-f", "json", "over-tls")))
		id := out["id"].(string)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			m := jsonOut[map[string]any](t, must(t, cli("image", "show", "-f", "json", id)))
			if m["status"] == "active" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("image not active: %v", m["status"])
			}
		}
		got := filepath.Join(dir, "got.raw")
		must(t, cli("image", "save", "--file", got, id))
		if a, b := mustRead(t, img), mustRead(t, got); a != b {
			t.Errorf("downloaded %d bytes, uploaded %d", len(b), len(a))
		}
	})

	t.Run("client certificates", func(t *testing.T) {
		_, _, clientCert := pki.issue(t, "client", x509.ExtKeyUsageClientAuth)
		withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{clientCert}}}}
		s := startTLS(t, t.TempDir(), fmt.Sprintf("cert_file = %s\nkey_file = %s\nca_file = %s\n", certFile, keyFile, pki.caFile), withCert)
		if _, err := trusting.Get(s.URL + "/versions"); err == nil {
			t.Errorf("a client without a certificate was served")
		}
		res, err := withCert.Get(s.URL + "/v2/images")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("list with a client certificate: %d", res.StatusCode)
		}
	})

	t.Run("half configured", func(t *testing.T) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "glance-api.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf("[DEFAULT]\nbind_port = 1\ncert_file = %s\n[glint]\ndata_dir = %s\n", certFile, dir)), 0o644)
		out, err := exec.Command(glintBin, "serve", "--config-file", conf).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "cert_file and key_file must be set together") {
			t.Errorf("glint serve with cert_file alone: %v\n%s", err, out)
		}
	})
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
