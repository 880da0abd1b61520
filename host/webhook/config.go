package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config configures webhooks for a deployment; it is the server config's `webhooks:` block.
// Zero fields take the defaults in their comments.
//
//	webhooks:
//	  endpoints:
//	    - name: crm
//	      url: https://crm.example.com/hooks/opstream
//	      secretEnv: OPSTREAM_WEBHOOK_CRM_SECRET
//	      events: [doc.changed, doc.deleted]
//	  debounce: 5s
type Config struct {
	// Endpoints receive the events; none means webhooks are off.
	Endpoints []EndpointConfig `yaml:"endpoints"`
	// Timeout bounds one delivery attempt (connect, send, response headers); zero means 10s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts is how many times an event is tried before it is given up; zero means 10.
	MaxAttempts int `yaml:"maxAttempts"`
	// BackoffBase is the wait before the first retry; it doubles with each retry, with jitter
	// (a random wait between half and all of it). Zero means 500ms.
	BackoffBase time.Duration `yaml:"backoffBase"`
	// BackoffMax caps the wait between retries; zero means 5m.
	BackoffMax time.Duration `yaml:"backoffMax"`
	// QueueSize bounds the events waiting per endpoint; beyond it events are dropped and
	// counted. Zero means 1000.
	QueueSize int `yaml:"queueSize"`
	// Workers is the number of concurrent deliveries per endpoint; zero means 2. Events to one
	// endpoint may arrive out of order when it is above 1: order them by revision.
	Workers int `yaml:"workers"`
	// Debounce is the window that merges a document's doc.changed events into one; zero
	// means 2s.
	Debounce time.Duration `yaml:"debounce"`
}

// EndpointConfig is one receiver.
type EndpointConfig struct {
	// Name labels the endpoint in metrics and logs; empty means the URL's host:port. Names
	// must be unique.
	Name string `yaml:"name"`
	// URL receives the events as POSTs; http or https.
	URL string `yaml:"url"`
	// Secret signs the events (HMAC-SHA256); at least 16 characters. Prefer SecretEnv.
	Secret string `yaml:"secret"`
	// SecretEnv names an environment variable holding the secret, read at start.
	SecretEnv string `yaml:"secretEnv"`
	// Events filters the event types sent (doc.changed, doc.last_peer_left, doc.deleted);
	// empty means all.
	Events []string `yaml:"events"`
}

// MinSecretLength is the shortest secret accepted.
const MinSecretLength = 16

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 500 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1000
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Debounce <= 0 {
		c.Debounce = 2 * time.Second
	}
	return c
}

// Validate checks c and says how to fix what is wrong; lookupEnv resolves SecretEnv (nil
// skips the check that the variable is set). All problems are reported at once.
func (c Config) Validate(lookupEnv func(string) (string, bool)) error {
	var errs []error
	names := map[string]int{}
	for i, e := range c.Endpoints {
		p := fmt.Sprintf("webhooks.endpoints[%d]", i)
		u, err := url.Parse(e.URL)
		switch {
		case e.URL == "":
			errs = append(errs, fmt.Errorf("%s.url: required", p))
		case err != nil:
			errs = append(errs, fmt.Errorf("%s.url %q: %w", p, e.URL, err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("%s.url %q: use an http:// or https:// URL", p, e.URL))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("%s.url %q: the URL has no host", p, e.URL))
		}
		name := e.name()
		if j, dup := names[name]; dup && name != "" {
			errs = append(errs, fmt.Errorf("%s: name %q is also endpoint %d's; set a distinct webhooks.endpoints[].name", p, name, j))
		}
		names[name] = i
		switch {
		case e.Secret != "" && e.SecretEnv != "":
			errs = append(errs, fmt.Errorf("%s: set secret or secretEnv, not both", p))
		case e.SecretEnv != "":
			if lookupEnv != nil {
				if v, ok := lookupEnv(e.SecretEnv); !ok || v == "" {
					errs = append(errs, fmt.Errorf("%s.secretEnv: environment variable %s is not set", p, e.SecretEnv))
				} else if len(v) < MinSecretLength {
					errs = append(errs, fmt.Errorf("%s.secretEnv: the secret in %s is shorter than %d characters", p, e.SecretEnv, MinSecretLength))
				}
			}
		case e.Secret == "":
			errs = append(errs, fmt.Errorf("%s: a secret is required so receivers can verify events; set secretEnv (or secret) to %d or more random characters", p, MinSecretLength))
		case len(e.Secret) < MinSecretLength:
			errs = append(errs, fmt.Errorf("%s.secret: shorter than %d characters", p, MinSecretLength))
		}
		for _, ev := range e.Events {
			if !EventType(ev).valid() {
				errs = append(errs, fmt.Errorf("%s.events: unknown event %q; use %s, %s or %s", p, ev, DocChanged, DocLastPeerLeft, DocDeleted))
			}
		}
	}
	if c.MaxAttempts < 0 || c.QueueSize < 0 || c.Workers < 0 {
		errs = append(errs, errors.New("webhooks: maxAttempts, queueSize and workers must not be negative"))
	}
	if c.BackoffMax > 0 && c.BackoffBase > c.BackoffMax {
		errs = append(errs, fmt.Errorf("webhooks.backoffBase %s is above backoffMax %s", c.BackoffBase, c.BackoffMax))
	}
	return errors.Join(errs...)
}

func (e EndpointConfig) name() string {
	if e.Name != "" {
		return e.Name
	}
	if u, err := url.Parse(e.URL); err == nil {
		return u.Host
	}
	return ""
}
