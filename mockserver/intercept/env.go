package intercept

// ProxyEnvNames are the variables ProxyEnv sets to the proxy's URL: the
// upper-case names most runtimes read (Go, Python requests, Ruby, Perl LWP's
// env_proxy, grpc), and the lower-case ones curl, PHP's curl and wget read
// (libcurl ignores upper-case HTTP_PROXY, by design).
var ProxyEnvNames = []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"}

// NoProxyEnvNames are the variables ProxyEnv sets to NoProxy, so a backend
// still reaches the mock's own URL, its database and the suite on the
// machine's loopback directly.
var NoProxyEnvNames = []string{"NO_PROXY", "no_proxy"}

// NoProxy is the value of NoProxyEnvNames: loopback, by address and name.
const NoProxy = "127.0.0.1,localhost,::1"

// CAEnvNames are the variables CAEnv sets to the CA certificate's path, one
// per runtime that reads its own:
//   - SSL_CERT_FILE: Go's crypto/x509 (it then trusts only that file, which
//     is what a test wants), Ruby's OpenSSL and anything else built on
//     OpenSSL's default paths;
//   - REQUESTS_CA_BUNDLE: Python requests;
//   - CURL_CA_BUNDLE: the curl command line and the libcurl users that
//     honour it (PHP's curl extension needs curl.cainfo instead);
//   - NODE_EXTRA_CA_CERTS: Node (added to its bundled roots; read once, at
//     start);
//   - PERL_LWP_SSL_CA_FILE: Perl LWP::UserAgent (LWP::Protocol::https);
//   - GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: grpc (grpc-js, and the C core behind
//     Python's, Ruby's and PHP's grpc).
//
// Go, Python requests, curl and Perl LWP (with env_proxy) also read the
// proxy variables of ProxyEnv; Node's https module and fetch do not (use
// name resolution: the target file's start.resolve_providers), nor does
// Java (-Dhttps.proxyHost, see Runtimes).
var CAEnvNames = []string{
	"SSL_CERT_FILE",
	"REQUESTS_CA_BUNDLE",
	"CURL_CA_BUNDLE",
	"NODE_EXTRA_CA_CERTS",
	"PERL_LWP_SSL_CA_FILE",
	"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
}

// ProxyEnv returns the "NAME=value" entries that send a process's HTTP and
// HTTPS requests through the proxy at proxyURL (e.g.
// "http://127.0.0.1:41234"): every name of ProxyEnvNames set to proxyURL,
// and NoProxyEnvNames set to NoProxy. A client reading them sends a CONNECT
// for https:// URLs, which the proxy answers for the providers' hosts with
// certificates from the CA: pair it with [CAEnv].
func ProxyEnv(proxyURL string) []string {
	env := make([]string, 0, len(ProxyEnvNames)+len(NoProxyEnvNames))
	for _, n := range ProxyEnvNames {
		env = append(env, n+"="+proxyURL)
	}
	for _, n := range NoProxyEnvNames {
		env = append(env, n+"="+NoProxy)
	}
	return env
}

// CAEnv returns the "NAME=value" entries that make the runtimes of
// CAEnvNames trust the CA certificate at caFile (see [CA.CertFile]).
func CAEnv(caFile string) []string {
	env := make([]string, 0, len(CAEnvNames))
	for _, n := range CAEnvNames {
		env = append(env, n+"="+caFile)
	}
	return env
}
