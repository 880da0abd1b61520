package jsonscan

import (
	"errors"
	"testing"
)

func TestInt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {" 42 ", 42, true}, {"9223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false}, {"-1", 0, false}, {"01", 0, false}, {"1.5", 0, false},
		{"1e3", 0, false}, {`"1"`, 0, false}, {"", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			s := New([]byte(tc.in))
			got, err := s.Int("n", "value")
			if err == nil {
				err = s.End("n")
			}
			if (err == nil) != tc.ok || got != tc.want && tc.ok {
				t.Fatalf("Int(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`"abc"`, true}, {`"a\u0062c"`, true}, {`""`, false}, {`"abcd"`, false},
		{`"a\"b"`, false}, {`"a\nb"`, false}, {`1`, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			s := New([]byte(tc.in))
			got, err := s.Name("op", "id", 3)
			if (err == nil) != tc.ok {
				t.Fatalf("Name(%s) = %q, %v; want ok %v", tc.in, got, err, tc.ok)
			}
			if err == nil && got != "abc" {
				t.Fatalf("Name(%s) = %q; want abc", tc.in, got)
			}
		})
	}
}

func TestObjectFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		a, b    string
		wantErr bool
	}{
		{in: `{"a":"x","b":[1, {"c":null}]}`, a: "x", b: `[1,{"c":null}]`},
		{in: `{}`},
		{in: `{"a":"x","a":"y"}`, wantErr: true},
		{in: `{"a":"x",}`, wantErr: true},
		{in: `{"a" "x"}`, wantErr: true},
		{in: `{"a":"x"} 1`, wantErr: true},
		{in: `[]`, wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			s := NewInterning([]byte(tc.in))
			fs := Fields{What: "op"}
			var a, b string
			err := s.Object("op", func(k string) error {
				switch k {
				case "a":
					if err := fs.Once(0, k); err != nil {
						return err
					}
					v, err := s.Str("op")
					a = v
					return err
				case "b":
					if err := fs.Once(1, k); err != nil {
						return err
					}
					v, err := s.Payload("op", k, 100)
					b = string(v)
					return err
				}
				return Invalid("op: unknown key %q", k)
			})
			if err == nil {
				err = s.End("op")
			}
			if (err != nil) != tc.wantErr || !tc.wantErr && (a != tc.a || b != tc.b) {
				t.Fatalf("got a=%q b=%q err=%v; want a=%q b=%q error %v", a, b, err, tc.a, tc.b, tc.wantErr)
			}
			if err == nil && fs.Has(0) != (a != "") {
				t.Fatalf("Has(0) = %v with a = %q", fs.Has(0), a)
			}
		})
	}
}

func TestPayloadLimit(t *testing.T) {
	t.Parallel()
	s := New([]byte(`[1, 2, 3]`))
	if _, err := s.Payload("op", "value", 6); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Payload over the limit: %v; want ErrInvalid", err)
	}
	s = New([]byte(`[1, 2, 3]`))
	if v, err := s.Payload("op", "value", 7); err != nil || string(v) != "[1,2,3]" {
		t.Fatalf("Payload = %q, %v", v, err)
	}
}

func TestAppendStringPlain(t *testing.T) {
	t.Parallel()
	if got := string(AppendString([]byte("x"), "ab")); got != `x"ab"` {
		t.Fatalf("AppendString = %s", got)
	}
	for s, want := range map[string]bool{"ab c": true, "": true, "a\"": false, "a\\": false, "a\x1f": false} {
		if Plain(s) != want {
			t.Errorf("Plain(%q) = %v; want %v", s, !want, want)
		}
	}
}
