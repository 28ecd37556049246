//go:build !linux

package sql_test

import "testing"

func postgresDSN(t *testing.T) string {
	t.Skip("the throwaway PostgreSQL server runs on Linux only")
	return ""
}

func mariaDSN(t *testing.T) string {
	t.Skip("the throwaway MariaDB server runs on Linux only")
	return ""
}

func mariaDriverDSN(t *testing.T) string {
	t.Skip("the throwaway MariaDB server runs on Linux only")
	return ""
}
