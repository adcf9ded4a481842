package wire

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func noopHandler(context.Context, *Request) (kmsg.Response, error) { return nil, nil }

func TestNewRegistryRejectsBadAPIs(t *testing.T) {
	for name, tc := range map[string]struct {
		apis    []API
		wantErr string
	}{
		"duplicate":              {[]API{{Key: 3, MaxVersion: 12, Handle: noopHandler}, {Key: 3, MaxVersion: 5, Handle: noopHandler}}, "already registered"},
		"ApiVersions is builtin": {[]API{{Key: 18, MaxVersion: 3, Handle: noopHandler}}, "already registered"},
		"unknown key":            {[]API{{Key: 999, MaxVersion: 0, Handle: noopHandler}}, "unknown to kmsg"},
		"negative key":           {[]API{{Key: -1, MaxVersion: 0, Handle: noopHandler}}, "unknown to kmsg"},
		"beyond kmsg":            {[]API{{Key: 3, MaxVersion: 99, Handle: noopHandler}}, "beyond kmsg"},
		"inverted range":         {[]API{{Key: 3, MinVersion: 5, MaxVersion: 4, Handle: noopHandler}}, "version range"},
		"negative min":           {[]API{{Key: 3, MinVersion: -1, MaxVersion: 4, Handle: noopHandler}}, "version range"},
		"nil handler":            {[]API{{Key: 3, MaxVersion: 4}}, "neither Handle nor Begin"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewRegistry(tc.apis...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewRegistry error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestRegistryAddAndLookup(t *testing.T) {
	reg, err := NewRegistry(API{Key: 3, MaxVersion: 12, Handle: noopHandler})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Add(API{Key: 3, MaxVersion: 1, Handle: noopHandler}); !errors.Is(err, errDuplicateAPI) {
		t.Fatalf("second Metadata: %v, want a duplicate error", err)
	}
	if err := reg.Add(API{Key: 0, MinVersion: 3, MaxVersion: 9, Handle: noopHandler}); err != nil {
		t.Fatal(err)
	}
	if a, ok := reg.Lookup(0); !ok || a.MinVersion != 3 || a.MaxVersion != 9 {
		t.Fatalf("Lookup(0) = %+v, %v", a, ok)
	}
	if _, ok := reg.Lookup(1); ok {
		t.Fatal("Lookup(1) found an API never added")
	}
	got := reg.Versions()
	want := []int16{0, 3, 18}
	if len(got) != len(want) {
		t.Fatalf("Versions() = %+v", got)
	}
	for i, k := range got {
		if k.ApiKey != want[i] {
			t.Fatalf("Versions() = %+v, want keys %v in order", got, want)
		}
	}
	got[0].MaxVersion = 100 // a copy: callers cannot change what ApiVersions advertises
	if reg.Versions()[0].MaxVersion != 9 {
		t.Fatal("Versions() exposed the registry's own slice")
	}
}
