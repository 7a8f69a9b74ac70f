package intercept

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/siteverify/siteverify/mockserver"
)

// The CA's files in its directory. The key file is written 0600 and read
// only here: it never reaches a log, the journal or an answer.
const (
	CertFileName = "siteverify-ca.pem"
	keyFileName  = "siteverify-ca-key.pem"
)

// CAName is the CA certificate's common name, chosen so that nobody who finds
// it in a trust store mistakes it for a real authority.
const CAName = "siteverify TEST CA - impersonates CAPTCHA providers - never trust outside test machines"

const (
	caLifetime   = 5 * 365 * 24 * time.Hour // reused across runs: a CI image trusts it once
	leafLifetime = 24 * time.Hour           // leaves are minted on demand, so short
	leafRenew    = time.Hour                // a cached leaf this close to expiry is minted anew
	backdate     = time.Hour                // tolerate clocks a little behind
)

// CA is the mock's certificate authority: it signs a short-lived leaf
// certificate for each provider host it is asked for, and only for those (its
// certificate carries name constraints for the providers' hosts, so even a
// misplaced trust in it vouches for nothing else).
type CA struct {
	dir      string
	cert     *x509.Certificate
	certPEM  []byte
	key      *ecdsa.PrivateKey
	hosts    []string
	now      func() time.Time
	mu       sync.Mutex
	leaves   map[string]*tls.Certificate
	leafKeys *ecdsa.PrivateKey // one key for every leaf: minting stays cheap
}

// ProviderHosts lists every host name the mock's providers answer on, each
// once (from each provider's RealHosts).
func ProviderHosts() []string {
	var hosts []string
	for _, p := range mockserver.Providers() {
		for _, h := range p.RealHosts() {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	return hosts
}

// IsProviderHost reports whether host (a name, without a port) is one of
// ProviderHosts.
func IsProviderHost(host string) bool {
	return slices.Contains(ProviderHosts(), strings.ToLower(strings.TrimSuffix(host, ".")))
}

// DefaultCADir is where the CA lives unless told otherwise: siteverify/ca
// under the user's cache directory.
func DefaultCADir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no default CA directory (%w): pass --ca-dir", err)
	}
	return filepath.Join(dir, "siteverify", "ca"), nil
}

// LoadCA loads the CA kept in dir, or makes one there on first use (ECDSA
// P-256; the directory 0700, the key 0600). A CA whose name constraints no
// longer cover every provider host (a provider was added since) is made
// anew, since clients would refuse its leaves.
func LoadCA(dir string) (*CA, error) {
	if dir == "" {
		return nil, errors.New("CA directory: empty path")
	}
	ca := &CA{dir: dir, hosts: ProviderHosts(), now: time.Now, leaves: map[string]*tls.Certificate{}}
	err := ca.load()
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errStaleCA) {
		err = ca.createLocked()
	}
	if err != nil {
		return nil, err
	}
	if ca.leafKeys, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, fmt.Errorf("leaf key: %w", err)
	}
	return ca, nil
}

var errStaleCA = errors.New("stale CA")

func (ca *CA) load() error {
	certPEM, err := os.ReadFile(ca.CertFile())
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(filepath.Join(ca.dir, keyFileName))
	if err != nil {
		return err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return fmt.Errorf("CA in %s: not PEM: delete the directory to make a new CA", ca.dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return fmt.Errorf("CA certificate %s: %w: delete the directory to make a new CA", ca.CertFile(), err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		// The error names the file, never its content.
		return fmt.Errorf("CA key in %s: not an EC private key: delete the directory to make a new CA", ca.dir)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return fmt.Errorf("CA in %s: key and certificate do not match: delete the directory to make a new CA", ca.dir)
	}
	if ca.now().Add(leafLifetime).After(cert.NotAfter) {
		return errStaleCA
	}
	for _, h := range ca.hosts {
		if !slices.Contains(cert.PermittedDNSDomains, h) {
			return errStaleCA
		}
	}
	ca.cert, ca.certPEM, ca.key = cert, certPEM, key
	return nil
}

// createLocked makes the CA under a lock file, so that processes starting
// at once (parallel tests, replicas) agree on one CA: the first makes it,
// the others load it. A key and a certificate written by two different
// processes would not match.
func (ca *CA) createLocked() error {
	if err := os.MkdirAll(ca.dir, 0o700); err != nil {
		return fmt.Errorf("CA directory: %w", err)
	}
	unlock, err := lockFile(filepath.Join(ca.dir, ".lock"))
	if err != nil {
		return fmt.Errorf("CA directory: %w", err)
	}
	defer unlock()
	if err := ca.load(); !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errStaleCA) {
		return err // made (or found damaged) while this process waited
	}
	return ca.create()
}

// lockFile takes an exclusive lock by creating path, waiting while another
// holder has it; a lock older than lockStale is taken over (its holder
// died).
func lockFile(path string) (unlock func(), err error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if st, err := os.Stat(path); err == nil && time.Since(st.ModTime()) > lockStale {
			os.Remove(path)
			continue
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockStale is how old a lock file must be to be taken over: making a CA
// takes milliseconds.
const lockStale = 10 * time.Second

func (ca *CA) create() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("CA key: %w", err)
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber:                serial(),
		Subject:                     pkix.Name{CommonName: CAName, Organization: []string{"siteverify (testing only)"}},
		NotBefore:                   now.Add(-backdate),
		NotAfter:                    now.Add(caLifetime),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         ca.hosts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("CA key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key first: a certificate on disk always has its key beside it.
	if err := writeFile(filepath.Join(ca.dir, keyFileName), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	if err := writeFile(ca.CertFile(), certPEM, 0o644); err != nil {
		return err
	}
	ca.cert, ca.certPEM, ca.key = cert, certPEM, key
	return nil
}

// writeFile writes data to a temporary file created with mode perm and
// renames it into place, so a reader never sees half a file and the key is
// never, even briefly, readable by others.
func writeFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n.Add(n, big.NewInt(1))
}

// Dir is the directory the CA is kept in.
func (ca *CA) Dir() string { return ca.dir }

// CertFile is the path of the CA certificate (PEM): the file to trust.
func (ca *CA) CertFile() string { return filepath.Join(ca.dir, CertFileName) }

// CertPEM is the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte { return slices.Clone(ca.certPEM) }

// Certificate is the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// SPKIHash is the base64 SHA-256 of the CA's public key, the form Chromium's
// --ignore-certificate-errors-spki-list takes: a browser given it trusts
// this CA, and only it, for the run.
func (ca *CA) SPKIHash() string {
	sum := sha256.Sum256(ca.cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// CertPool is a pool holding only the CA certificate, for Go clients.
func (ca *CA) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// Leaf returns a certificate for host, signed by the CA and chained to it,
// minted on first use and cached until an hour before it expires. host must
// be one of ProviderHosts: the CA vouches for nothing else.
func (ca *CA) Leaf(host string) (*tls.Certificate, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !slices.Contains(ca.hosts, host) {
		return nil, fmt.Errorf("%q is not a provider host; the mock's CA signs only %s", host, strings.Join(ca.hosts, ", "))
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	now := ca.now()
	if c, ok := ca.leaves[host]; ok && now.Add(leafRenew).Before(c.Leaf.NotAfter) {
		return c, nil
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: host, Organization: []string{"siteverify (testing only)"}},
		DNSNames:     []string{host},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &ca.leafKeys.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate for %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate for %s: %w", host, err)
	}
	// The chain carries the CA: Chromium's SPKI list matches any certificate
	// the server sends.
	c := &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: ca.leafKeys, Leaf: leaf}
	ca.leaves[host] = c
	return c, nil
}

// TLSConfig is a server configuration that presents the leaf of the name the
// client asked for (SNI), or of fallback when it sent none, and offers HTTP/2
// (gRPC clients need it) and HTTP/1.1.
func (ca *CA) TLSConfig(fallback string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			name := hello.ServerName
			if name == "" {
				name = fallback
			}
			return ca.Leaf(name)
		},
	}
}
