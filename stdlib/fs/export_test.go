package fs

// Failure words err as a failed call of what on path.
func Failure(what, path string, err error) error {
	return (&call{what: what, given: path}).failure(err)
}
