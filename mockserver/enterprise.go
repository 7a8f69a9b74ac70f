package mockserver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is reCAPTCHA Enterprise's wire, all of it (wire-facts §2): the
// assessments API's paths and host, API-key auth, the Assessment answer in
// its v1 and v1beta1 layouts, the invalid-reason and classification-reason
// enums, and Google's API error envelope.

// Enterprise is reCAPTCHA Enterprise's assessments API
// (projects.assessments.create) at
// https://recaptchaenterprise.googleapis.com/v1/projects/{project}/assessments.
// A site's Secret is its project's API key, its Project the project ID.
var Enterprise = enterpriseProvider

// enterpriseProvider is Enterprise's wire, declared here so that go doc shows
// the exported value, not its fields.
var enterpriseProvider = &Provider{
	name:  "recaptcha-enterprise",
	title: "reCAPTCHA Enterprise",
	// The default project's URL; every project is served (routes).
	verifyPath: "/v1/projects/" + EnterpriseTestProject + "/assessments",
	routes: []string{
		"POST /v1/projects/{project}/assessments",
		"POST /v1beta1/projects/{project}/assessments",
	},
	prefixes:      []string{"recaptchaenterprise.googleapis.com/v1/", "recaptchaenterprise.googleapis.com/v1beta1/"},
	tokenField:    "g-recaptcha-response",
	tokenLifetime: DefaultTokenLifetime,
	kinds:         []KeyKind{EnterpriseScore, EnterpriseCheckbox},
	newKeys:       enterpriseKeys,
	tokenPrefix:   "03A", // the same client script mints them
	bodyTypes:     []string{"application/json"},
	testSite:      func() Site { return Site{} }, // Enterprise has no public test keys
	wire:          enterprise{},
}

// EnterpriseTestProject is the project ID of Enterprise sites that name
// none.
const EnterpriseTestProject = "siteverify-test"

// The Enterprise invalid reasons (TokenProperties.InvalidReason), in enum
// order: the value of each is its index. A rule's ErrorCodes may name one
// to answer valid:false with it.
var enterpriseInvalidReasons = []string{
	"INVALID_REASON_UNSPECIFIED", "UNKNOWN_INVALID_REASON", "MALFORMED", "EXPIRED", "DUPE",
	"MISSING", "BROWSER_ERROR", "UNEXPECTED_ACTION", "KEY_MISMATCH", "DOMAIN_MISMATCH",
}

// EnterpriseReasons are the classification reasons
// (RiskAnalysis.ClassificationReason) a token can carry, in enum order from
// 1 (AUTOMATION): TokenSpec.Reasons names them.
var enterpriseReasons = []string{
	"AUTOMATION", "UNEXPECTED_ENVIRONMENT", "TOO_MUCH_TRAFFIC", "UNEXPECTED_USAGE_PATTERNS",
	"LOW_CONFIDENCE_SCORE", "SUSPECTED_CARDING", "SUSPECTED_CHARGEBACK",
}

// EnterpriseReasons lists the classification reasons a token spec may name.
func EnterpriseReasons() []string { return slices.Clone(enterpriseReasons) }

// EnterpriseInvalidReasons lists the invalid reasons a rule's ErrorCodes may
// name to answer valid:false with one.
func EnterpriseInvalidReasons() []string { return slices.Clone(enterpriseInvalidReasons) }

// enterpriseAPIErrors are Google's API errors a rule's ErrorCodes may name,
// with their HTTP status and message; the auth failures use the same.
var enterpriseAPIErrors = map[string]struct {
	status  int
	message string
}{
	"INVALID_ARGUMENT":   {http.StatusBadRequest, "Request contains an invalid argument."},
	"UNAUTHENTICATED":    {http.StatusUnauthorized, "Request had invalid authentication credentials."},
	"PERMISSION_DENIED":  {http.StatusForbidden, "Permission denied for: recaptchaenterprise.assessments.create"},
	"NOT_FOUND":          {http.StatusNotFound, "Project not found."},
	"RESOURCE_EXHAUSTED": {http.StatusTooManyRequests, "Quota exceeded for quota metric 'Assessments'."},
	"INTERNAL":           {http.StatusInternalServerError, "Internal error encountered."},
	"UNAVAILABLE":        {http.StatusServiceUnavailable, "The service is currently unavailable."},
	"DEADLINE_EXCEEDED":  {http.StatusGatewayTimeout, "The request timed out."},
}

// API error codes the verdicts use.
const (
	codeAPIKeyInvalid    = "API_KEY_INVALID"   // 400 INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID
	codeAPIKeyMissing    = "API_KEY_MISSING"   // 403 PERMISSION_DENIED, "missing a valid API key"
	codePermissionDenied = "PERMISSION_DENIED" // the key's project is not the URL's
	codeProjectNotFound  = "NOT_FOUND"
	codeInvalidArgument  = "INVALID_ARGUMENT"
)

// enterpriseKeys makes a 40-character "6L…" sitekey and an API key shaped
// like Google's ("AIza" and 35 characters).
func enterpriseKeys() (siteKey, secret string) {
	k := randomKey()
	b := make([]byte, 35)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = keyAlphabet[int(b[i])%len(keyAlphabet)]
	}
	return k, "AIza" + string(b)
}

// enterpriseRequest is what an assessment request carries besides the
// verifyRequest fields.
type enterpriseRequest struct {
	project        string
	beta           bool // v1beta1: score and reasons at the top level
	enumInt        bool // $alt=json;enum-encoding=int: enums as numbers
	userAgent      string
	expectedAction string
	hashedAccount  string
	siteKeyGiven   bool
}

type enterprise struct{}

func (enterprise) contentType() string { return "application/json; charset=UTF-8" }

func (enterprise) serverHeader() string { return "ESF" }

// Only POST is routed here; anything else is 405 (see postOnly).
func (enterprise) methodStatus(method string) int { return postOnly(method) }

// The API key is checked before the token: a bad key fails the call.
func (enterprise) tokenFirst() bool { return false }

// Enterprise has no public test keys; a site's testingScore is applied in
// the answer (see TestingScore).
func (enterprise) testVerdict(*verifyRequest, time.Time) (verdict, bool) { return verdict{}, false }

// parse reads the API key (?key=, x-goog-api-key, or a Bearer token taken as
// one: the mock's stand-in for OAuth) and the JSON Assessment body.
func (enterprise) parse(r *http.Request) verifyRequest {
	var vr verifyRequest
	er := &enterpriseRequest{project: r.PathValue("project"), beta: strings.HasPrefix(r.URL.Path, "/v1beta1/")}
	vr.enterprise = er
	vr.query, _ = parseForm(r.URL.RawQuery)
	er.enumInt = strings.Contains(vr.query.Get("$alt"), "enum-encoding=int")
	vr.secret, vr.secretIn = apiKey(r, vr.query)
	if r.Body == nil {
		vr.badRequest = true
		return vr
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	body, err := readBody(r, (*bp)[:0])
	*bp = body
	if err != nil || len(body) > maxBodyBytes {
		vr.badRequest = true
		return vr
	}
	var a struct {
		Event struct {
			Token          string `json:"token"`
			SiteKey        string `json:"siteKey"`
			UserAgent      string `json:"userAgent"`
			UserIPAddress  string `json:"userIpAddress"`
			ExpectedAction string `json:"expectedAction"`
			HashedAccount  string `json:"hashedAccountId"`
		} `json:"event"`
	}
	// Unknown fields are ignored, as Google's API does for newer ones.
	if json.Unmarshal(body, &a) != nil {
		vr.badRequest = true
		return vr
	}
	e := a.Event
	vr.token, vr.siteKey, vr.remoteIP = e.Token, e.SiteKey, e.UserIPAddress
	er.userAgent, er.expectedAction, er.hashedAccount, er.siteKeyGiven = e.UserAgent, e.ExpectedAction, e.HashedAccount, e.SiteKey != ""
	vr.form = map[string][]string{"event.token": {e.Token}, "event.siteKey": {e.SiteKey}}
	if e.ExpectedAction != "" {
		vr.form["event.expectedAction"] = []string{e.ExpectedAction}
	}
	if e.UserIPAddress != "" {
		vr.form["event.userIpAddress"] = []string{e.UserIPAddress}
	}
	return vr
}

// enterpriseAuth decides an assessment's credentials before anything else,
// as Google's API front end does: no API key is 403, a key that is no
// Enterprise site's is 400 API_KEY_INVALID, a key of another project than
// the URL's is 403 (that project is a registered one) or 404 (it is not).
func (s *Server) enterpriseAuth(vr *verifyRequest, reg registration) (verdict, bool) {
	project := vr.enterprise.project
	switch {
	case vr.secret == "":
		return verdict{outcome: outcomeMissing, missingSecret: true, missingResponse: vr.token == ""}, true
	case !reg.known || reg.site.Kind.Provider() != Enterprise:
		return verdict{outcome: outcomeInvalidSecret}, true
	case reg.site.inProject(project):
		return verdict{}, false
	case s.knownProject(project):
		return verdict{outcome: outcomeCodes, codes: []string{codePermissionDenied}}, true
	}
	return verdict{outcome: outcomeCodes, codes: []string{codeProjectNotFound}}, true
}

// knownProject reports whether a registered Enterprise site is in project.
func (s *Server) knownProject(project string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, site := range s.bySiteKey {
		if site.Kind.Provider() == Enterprise && site.inProject(project) {
			return true
		}
	}
	return false
}

// apiKey is the request's API key and where it came from: ?key=, the
// x-goog-api-key header, or a Bearer token, which the mock takes as the key
// (its stand-in for OAuth: no token service runs offline).
func apiKey(r *http.Request, query url.Values) (key, in string) {
	switch {
	case query.Get("key") != "":
		return query.Get("key"), "query"
	case r.Header.Get("X-Goog-Api-Key") != "":
		return r.Header.Get("X-Goog-Api-Key"), "header"
	case strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
		return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), "header"
	}
	return "", ""
}

// The annotations projects.assessments.annotate takes.
var enterpriseAnnotations = []string{"ANNOTATION_UNSPECIFIED", "LEGITIMATE", "FRAUDULENT", "PASSWORD_CORRECT", "PASSWORD_INCORRECT"}

// enterpriseRoutes registers what Enterprise serves besides assessments:
// annotate.
func (s *Server) enterpriseRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/projects/{project}/assessments/{assessment}", s.serveAnnotate)
}

// serveAnnotate answers projects.assessments.annotate
// (POST /v1/projects/{p}/assessments/{id}:annotate) with an empty object,
// after the same credential checks as an assessment, and records it in the
// journal, annotation and all.
func (s *Server) serveAnnotate(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id, ok := strings.CutSuffix(r.PathValue("assessment"), ":annotate")
	if !ok {
		http.NotFound(w, r)
		return
	}
	query, _ := parseForm(r.URL.RawQuery)
	vr := verifyRequest{enterprise: &enterpriseRequest{project: r.PathValue("project")}, query: query}
	vr.secret, vr.secretIn = apiKey(r, query)
	vr.token = "-" // an annotation carries no token: only the credentials are checked
	reg := s.lookup(vr.secret, "")
	rd := s.newRedactor(vr.secret, reg.fingerprint)
	entry := Request{Time: s.clock.now(), Method: http.MethodPost, Path: keep(r.URL.Path, journalMaxFieldBytes),
		ContentType: recordContentType(r.Header.Get("Content-Type")), SecretIn: vr.secretIn, Peer: r.RemoteAddr}
	if vr.secret != "" {
		entry.SecretSite, entry.SecretFingerprint = reg.site.SiteKey, rd.ownFP
	}
	entry.Query, _ = rd.params(query, nil)
	var body []byte
	status := http.StatusOK
	if v, failed := s.enterpriseAuth(&vr, reg); failed {
		codes := enterprise{}.errorCodes(&v)
		status, _, _ = apiError(codes)
		body = enterprise{}.appendErrorCodes(nil, codes)
		entry.Outcome = "annotate refused: " + strings.Join(codes, ", ")
	} else {
		var a struct {
			Annotation string   `json:"annotation"`
			Reasons    []string `json:"reasons"`
		}
		raw, err := readBody(r, nil)
		switch {
		case err != nil || len(raw) > maxBodyBytes || json.Unmarshal(raw, &a) != nil:
			status, body = http.StatusBadRequest, enterprise{}.appendErrorCodes(nil, []string{codeInvalidArgument})
			entry.Outcome = "annotate refused: the body is not an annotation"
		case a.Annotation != "" && !slices.Contains(enterpriseAnnotations, a.Annotation):
			status, body = http.StatusBadRequest, enterprise{}.appendErrorCodes(nil, []string{codeInvalidArgument})
			entry.Outcome = truncate("annotate refused: unknown annotation "+a.Annotation, journalMaxOutcomeBytes)
		default:
			body = []byte("{}\n")
			entry.Outcome = truncate("annotate "+a.Annotation+" "+strings.Join(a.Reasons, ",")+" (assessment "+id+")", journalMaxOutcomeBytes)
		}
	}
	s.writeAnswer(Enterprise, w, status, Enterprise.wire.contentType(), body)
	entry.Status, entry.Response = status, string(body)
	entry.Duration = time.Since(start)
	s.journal.add(entry)
}

// check applies the event's sitekey: an event without one is
// INVALID_ARGUMENT; a token of another sitekey is valid:false with
// INVALID_REASON_UNSPECIFIED, as recorded for v1 (wire-facts §2.2; newer
// keys may say KEY_MISMATCH: a rule can answer that).
func (enterprise) check(vr *verifyRequest, site Site) (verdict, bool) {
	er := vr.enterprise
	switch {
	case er != nil && !er.siteKeyGiven:
		return verdict{outcome: outcomeCodes, codes: []string{codeInvalidArgument}}, true
	case vr.siteKey != site.SiteKey:
		return verdict{outcome: outcomeCodes, codes: []string{"INVALID_REASON_UNSPECIFIED"}, site: site}, true
	}
	return verdict{}, false
}

// inProject reports whether the URL's project names the site's: its ID, or
// the project number the mock derives from it.
func (s Site) inProject(project string) bool {
	return project == s.project() || project == projectNumber(s.project())
}

func (s Site) project() string {
	if s.Project == "" {
		return EnterpriseTestProject
	}
	return s.Project
}

// projectNumber is the numeric project number of a project ID: the ID
// itself when numeric, else a stable 12-digit number derived from it
// (assessment names carry numbers, wire-facts §2.2).
func projectNumber(project string) string {
	if _, err := strconv.ParseUint(project, 10, 64); err == nil {
		return project
	}
	h := fnv.New64a()
	h.Write([]byte(project))
	return strconv.FormatUint(100000000000+h.Sum64()%900000000000, 10)
}

// errorCodes names a failed verdict: an invalid reason (valid:false) or an
// API error.
func (enterprise) errorCodes(v *verdict) []string {
	switch v.outcome {
	case outcomeMissing:
		if v.missingSecret {
			return []string{codeAPIKeyMissing}
		}
		return []string{"MISSING"}
	case outcomeInvalidSecret:
		return []string{codeAPIKeyInvalid}
	case outcomeInvalidResponse:
		if v.claims != nil {
			return []string{"INVALID_REASON_UNSPECIFIED"} // a token of another site (§2.2)
		}
		return []string{"MALFORMED"}
	case outcomeExpired:
		return []string{"EXPIRED"}
	case outcomeDuplicate:
		return []string{"DUPE"}
	case outcomeBadRequest:
		return []string{codeInvalidArgument}
	case outcomeCodes:
		return v.codes
	}
	return nil
}

// answerStatus is 200 for an assessment, valid or not, and the API error's
// status otherwise.
func (d enterprise) answerStatus(v *verdict) int {
	if v.outcome == outcomeSuccess {
		return http.StatusOK
	}
	if status, _, _ := apiError(d.errorCodes(v)); status != 0 {
		return status
	}
	return http.StatusOK
}

// apiError is the API error codes name, if their first is one: its HTTP
// status, status name and message; status 0 when codes name an invalid
// reason instead.
func apiError(codes []string) (status int, name, message string) {
	if len(codes) == 0 {
		return 0, "", ""
	}
	switch codes[0] {
	case codeAPIKeyInvalid:
		return http.StatusBadRequest, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."
	case codeAPIKeyMissing:
		return http.StatusForbidden, "PERMISSION_DENIED", "The request is missing a valid API key."
	}
	if e, ok := enterpriseAPIErrors[codes[0]]; ok {
		return e.status, codes[0], e.message
	}
	return 0, "", ""
}

// appendAnswer writes an Assessment (v1, or v1beta1 with score and reasons
// at the top level), or Google's API error envelope, pretty-printed as
// Google's REST front end does.
func (d enterprise) appendAnswer(b []byte, v *verdict) []byte {
	codes := d.errorCodes(v)
	if v.outcome != outcomeSuccess {
		if status, _, _ := apiError(codes); status != 0 {
			return d.appendErrorCodes(b, codes)
		}
	}
	var er enterpriseRequest
	var vr verifyRequest
	if v.request != nil {
		vr = *v.request
		if vr.enterprise != nil {
			er = *vr.enterprise
		}
	}
	c := v.claims
	valid := v.outcome == outcomeSuccess
	project := er.project
	if v.site.SiteKey != "" {
		project = v.site.project()
	}
	b = append(b, "{\n  \"name\": "...)
	b = appendJSONString(b, "projects/"+projectNumber(project)+"/assessments/"+assessmentID())
	b = append(b, ",\n  \"event\": {\n    \"token\": "...)
	b = appendJSONString(b, vr.token)
	b = append(b, ",\n    \"siteKey\": "...)
	b = appendJSONString(b, vr.siteKey)
	b = append(b, ",\n    \"userAgent\": "...)
	b = appendJSONString(b, er.userAgent)
	b = append(b, ",\n    \"userIpAddress\": "...)
	b = appendJSONString(b, vr.remoteIP)
	b = append(b, ",\n    \"expectedAction\": "...)
	b = appendJSONString(b, er.expectedAction)
	b = append(b, ",\n    \"hashedAccountId\": "...)
	b = appendJSONString(b, er.hashedAccount)
	b = append(b, "\n  },\n"...)

	score, reasons := 0.0, []int(nil)
	if valid && c != nil {
		score = c.score()
		if ts, ok := v.site.testingScore(); ok {
			score = ts
		}
		reasons = c.reasonCodes()
	}
	appendReasons := func(b []byte, indent string) []byte {
		b = append(b, '[')
		for i, r := range reasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n  "+indent...)
			if er.enumInt {
				b = strconv.AppendInt(b, int64(r), 10)
			} else {
				b = appendJSONString(b, enterpriseReasons[r-1])
			}
		}
		if len(reasons) > 0 {
			b = append(b, "\n"+indent...)
		}
		return append(b, ']')
	}
	if er.beta {
		b = append(b, "  \"score\": "...)
		b = strconv.AppendFloat(b, score, 'f', -1, 64)
		b = append(b, ",\n"...)
	} else {
		b = append(b, "  \"riskAnalysis\": {\n    \"score\": "...)
		b = strconv.AppendFloat(b, score, 'f', -1, 64)
		b = append(b, ",\n    \"reasons\": "...)
		b = appendReasons(b, "    ")
		b = append(b, "\n  },\n"...)
	}

	invalid := 0
	if !valid {
		invalid = slices.Index(enterpriseInvalidReasons, firstOr(codes, "UNKNOWN_INVALID_REASON"))
		if invalid < 0 {
			invalid = 1 // UNKNOWN_INVALID_REASON: a code that is not one of the enum's
		}
	}
	hostname, action, created := "", "", time.Unix(0, 0).UTC()
	if c != nil && (valid || v.outcome == outcomeExpired || v.outcome == outcomeDuplicate) {
		// An expired or replayed token still says what it was; a malformed
		// one says nothing (the recorded empty strings and 1970 time).
		hostname, action, created = c.hostname, c.action, c.issuedAt
	}
	b = append(b, "  \"tokenProperties\": {\n    \"valid\": "...)
	b = strconv.AppendBool(b, valid)
	b = append(b, ",\n    \"invalidReason\": "...)
	if er.enumInt {
		b = strconv.AppendInt(b, int64(invalid), 10)
	} else {
		b = appendJSONString(b, enterpriseInvalidReasons[invalid])
	}
	b = append(b, ",\n    \"hostname\": "...)
	b = appendJSONString(b, hostname)
	b = append(b, ",\n    \"androidPackageName\": \"\",\n    \"iosBundleId\": \"\",\n    \"action\": "...)
	b = appendJSONString(b, action)
	b = append(b, ",\n    \"createTime\": "...)
	b = appendJSONString(b, protoTime(created))
	b = append(b, "\n  }"...)
	if er.beta {
		b = append(b, ",\n  \"reasons\": "...)
		b = appendReasons(b, "  ")
	}
	return append(b, "\n}\n"...)
}

// protoTime formats t as proto3 JSON does a Timestamp: UTC, with 0, 3, 6 or
// 9 fractional digits as needed ("1970-01-01T00:00:00Z" for an invalid
// token, as recorded; "…:12.345Z" for a token's millisecond time).
func protoTime(t time.Time) string {
	t = t.UTC()
	switch ns := t.Nanosecond(); {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}

func firstOr(codes []string, def string) string {
	if len(codes) == 0 {
		return def
	}
	return codes[0]
}

// assessmentID is a fresh 16-hex-digit assessment id.
func assessmentID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// appendErrorCodes writes Google's API error envelope for an API error code,
// or an invalid assessment for an invalid reason.
func (d enterprise) appendErrorCodes(b []byte, codes []string) []byte {
	status, name, message := apiError(codes)
	if status == 0 {
		return d.appendAnswer(b, &verdict{outcome: outcomeCodes, codes: codes})
	}
	b = append(b, "{\n  \"error\": {\n    \"code\": "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ",\n    \"message\": "...)
	b = appendJSONString(b, message)
	b = append(b, ",\n    \"status\": "...)
	b = appendJSONString(b, name)
	if codes[0] == codeAPIKeyInvalid {
		b = append(b, `,
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {
          "service": "recaptchaenterprise.googleapis.com"
        }
      }
    ]`...)
	}
	return append(b, "\n  }\n}\n"...)
}

// errorPage is Google's HTML error page, as in front of siteverify.
func (enterprise) errorPage(status int) []byte { return recaptcha{}.errorPage(status) }
