//go:build !linux

package testenv

import "syscall"

// Without Pdeathsig, a test binary that crashes leaves its servers running.
func sysProcAttr() *syscall.SysProcAttr { return nil }
