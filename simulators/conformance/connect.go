package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
)

// target is the vCenter the client talks to and how it is trusted.
type target struct {
	url         *url.URL // https://host:port/sdk, without credentials
	username    string
	password    string // from the environment only: argv shows in `ps`
	fingerprint string // SHA-256 of the server's certificate, normalized by normalizeFingerprint
}

// normalizeFingerprint accepts AA:BB:…, aa bb … or aabb… and returns the colon-separated
// upper-case form the product shows (inventory/clients/tls.py).
func normalizeFingerprint(value string) (string, error) {
	digits := strings.ToUpper(strings.NewReplacer(":", "", " ", "", "-", "", "\t", "").Replace(value))
	if len(digits) != 64 || strings.Trim(digits, "0123456789ABCDEF") != "" {
		return "", errors.New("a SHA-256 fingerprint is 64 hexadecimal digits, e.g. 4F:1A:…:9C")
	}
	pairs := make([]string, 0, 32)
	for i := 0; i < 64; i += 2 {
		pairs = append(pairs, digits[i:i+2])
	}
	return strings.Join(pairs, ":"), nil
}

func sha256Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	pairs := make([]string, len(sum))
	for i, b := range sum {
		pairs[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(pairs, ":")
}

// presentedCertificate reads the certificate the server presents. The handshake trusts no
// authority at all, so it fails on purpose at certificate verification; Go's verification error
// carries the certificate it refused. Nothing is sent over this connection.
func presentedCertificate(host, port string) (*x509.Certificate, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	probe := &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12, ServerName: host}
	conn, err := tls.DialWithDialer(dialer, "tcp", net.JoinHostPort(host, port), probe)
	if err == nil {
		// Only a server whose certificate chains to an empty pool gets here: impossible, but do
		// not leave the connection open if it happens.
		cert := conn.ConnectionState().PeerCertificates[0]
		_ = conn.Close()
		return cert, nil
	}
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown) && unknown.Cert != nil:
		return unknown.Cert, nil
	case errors.As(err, &hostname) && hostname.Certificate != nil:
		return hostname.Certificate, nil
	case errors.As(err, &invalid) && invalid.Cert != nil:
		return invalid.Cert, nil
	}
	return nil, fmt.Errorf("cannot read the certificate of %s: %w", net.JoinHostPort(host, port), err)
}

// pinnedTLS returns a TLS configuration that trusts exactly the pinned certificate.
//
// The presented certificate is read first and refused unless its SHA-256 is the pin; it then
// becomes the only trust anchor, so Go's normal verification (chain, host name, validity) runs on
// every connection, and VerifyConnection checks the pin again on each one (the SOAP connection and
// the NFC upload alike). Verification is never switched off.
func pinnedTLS(u *url.URL, fingerprint string) (*tls.Config, error) {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	cert, err := presentedCertificate(host, port)
	if err != nil {
		return nil, err
	}
	if got := sha256Fingerprint(cert); got != fingerprint {
		return nil, fmt.Errorf("the certificate of %s changed: SHA-256 %s, pinned %s", u.Host, got, fingerprint)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{
		RootCAs:    roots,
		MinVersion: tls.VersionTLS12,
		VerifyConnection: func(state tls.ConnectionState) error {
			if len(state.PeerCertificates) == 0 || sha256Fingerprint(state.PeerCertificates[0]) != fingerprint {
				return fmt.Errorf("%s presented a certificate other than the pinned one", state.ServerName)
			}
			return nil
		},
	}, nil
}

// vcSession is a logged-in govmomi client.
type vcSession struct {
	client  *vim25.Client
	manager *session.Manager
}

// login connects with the pinned TLS configuration and logs in.
func login(ctx context.Context, t target) (*vcSession, error) {
	config, err := pinnedTLS(t.url, t.fingerprint)
	if err != nil {
		return nil, err
	}
	sc := soap.NewClient(t.url, false)
	// soap.NewClient made a configuration of its own; the transport's dialer (which falls back to
	// SHA-1 thumbprints only when one is registered, and none is) uses this one instead.
	sc.DefaultTransport().TLSClientConfig = config
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, err
	}
	manager := session.NewManager(c)
	if err := manager.Login(ctx, url.UserPassword(t.username, t.password)); err != nil {
		return nil, err
	}
	return &vcSession{client: c, manager: manager}, nil
}

// logout ends the session; a failure here changes nothing the caller asked for.
func (s *vcSession) logout(ctx context.Context) {
	_ = s.manager.Logout(ctx)
}
