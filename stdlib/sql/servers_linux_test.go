//go:build linux

package sql_test

import (
	"testing"

	"github.com/imscript/imscript/internal/testserver"
)

func postgresDSN(t *testing.T) string { return testserver.Postgres(t).DSN }

func mariaDSN(t *testing.T) string { return testserver.MariaDB(t).DSN }

func mariaDriverDSN(t *testing.T) string { return testserver.MariaDB(t).DriverDSN() }
