package intercept

import "strings"

// Route is how a client reaches the mock on a provider's real URL.
type Route string

// The two routes.
const (
	// ViaProxy: the client honours HTTPS_PROXY and sends CONNECT to the
	// mock's forward proxy (serve --proxy-addr, target start.use_proxy).
	ViaProxy Route = "proxy"
	// ViaNameResolution: the client ignores proxy settings; a hosts entry
	// sends the provider's host names to the mock's TLS listener (serve
	// --tls-addr on port 443, target start.resolve_providers).
	ViaNameResolution Route = "name resolution"
)

// Runtime says how one client runtime is made to trust the mock's CA and
// which route brings its requests to the mock.
type Runtime struct {
	// Name is the runtime or HTTP client, e.g. "Python requests".
	Name string
	// Route is the path its requests can take.
	Route Route
	// Trust is how to make it trust the CA, with {ca} standing for the CA
	// certificate's path.
	Trust string
	// Note is what to know besides, "" for nothing.
	Note string
}

// Runtimes lists the runtimes whose trust and proxy settings the project
// documents (README, siteverify ca); those on the test machines are tested.
func Runtimes() []Runtime {
	return []Runtime{
		{"Go net/http, grpc-go", ViaProxy, "SSL_CERT_FILE={ca}", "SSL_CERT_FILE replaces the system roots for the process"},
		{"Python requests", ViaProxy, "REQUESTS_CA_BUNDLE={ca}", ""},
		{"Node https, fetch (undici)", ViaNameResolution, "NODE_EXTRA_CA_CERTS={ca}", "Node ignores HTTPS_PROXY (and NODE_USE_ENV_PROXY in Node 20)"},
		{"Node axios >= 1.17", ViaProxy, "NODE_EXTRA_CA_CERTS={ca}", "older axios sends POST https://... in clear to the proxy, which answers it too"},
		{"Node grpc-js", ViaProxy, "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH={ca}", "the proxy carries HTTP/2"},
		{"curl, PHP curl", ViaProxy, "CURL_CA_BUNDLE={ca} (curl); php -d curl.cainfo={ca} (PHP)", "libcurl reads https_proxy/HTTPS_PROXY"},
		{"Ruby Net::HTTP", ViaProxy, "SSL_CERT_FILE={ca}", "Net::HTTP reads http_proxy, even for https URLs, and skips the proxy for a host that resolves to loopback"},
		{"PHP streams (file_get_contents)", ViaNameResolution, "SSL_CERT_FILE={ca}", "streams ignore the proxy variables"},
		{"Perl LWP", ViaProxy, "PERL_LWP_SSL_CA_FILE={ca}", "only when the code calls env_proxy (or LWP::UserAgent->new(env_proxy => 1)); otherwise name resolution"},
		{"Java (HttpClient, HttpsURLConnection)", ViaProxy, "keytool -importcert -noprompt -alias siteverify-test-ca -file {ca} -keystore siteverify.p12 -storepass changeit; java -Djavax.net.ssl.trustStore=siteverify.p12 -Djavax.net.ssl.trustStorePassword=changeit",
			"Java ignores HTTPS_PROXY: -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=PORT"},
	}
}

// TrustFor is r.Trust with {ca} replaced by caFile.
func (r Runtime) TrustFor(caFile string) string {
	return strings.ReplaceAll(r.Trust, "{ca}", caFile)
}
