// Package memlimit finds how much memory this process may use: the memory limit of its
// cgroup (v1 or v2), or the machine's RAM. A container's limit is invisible to the Go
// runtime and to a configuration written for a bigger machine, and a process that
// crosses it is killed by the kernel, not refused an allocation; the node sizes its
// memory budgets from what this package finds.
package memlimit

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Limit is the memory available to the process and where that figure came from.
type Limit struct {
	Bytes  int64
	Source string // a cgroup limit file, or "/proc/meminfo"
	Cgroup bool   // a cgroup limit, as opposed to the machine's RAM
}

// unlimited is the threshold above which a cgroup v1 limit means "none": the kernel
// reports no limit as the largest page-aligned int64 (9223372036854771712).
const unlimited = 1 << 62

// Detect returns the smaller of the process's cgroup memory limit and the machine's
// RAM. root is the file system root to read /proc and /sys under ("/", or a test's
// fake tree). ok is false when neither could be read.
func Detect(root string) (lim Limit, ok bool) {
	ram, ramErr := memTotal(root)
	cg, cgOK := cgroupLimit(root)
	switch {
	case cgOK && (ramErr != nil || cg.Bytes < ram):
		return cg, true
	case ramErr == nil:
		return Limit{Bytes: ram, Source: "/proc/meminfo"}, true
	}
	return Limit{}, false
}

// memTotal reads MemTotal from /proc/meminfo.
func memTotal(root string) (int64, error) {
	f, err := os.Open(filepath.Join(root, "proc/meminfo"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "MemTotal:" && fields[2] == "kB" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse MemTotal %q: %w", fields[1], err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no MemTotal in /proc/meminfo")
}

// mount is a cgroup file system mount from /proc/self/mountinfo.
type mount struct {
	root  string // the cgroup path the mount shows at its mount point
	point string
	v2    bool
}

// cgroupLimit returns the tightest memory limit among the process's cgroup and its
// ancestors, from the memory controller's v1 hierarchy or the v2 one.
func cgroupLimit(root string) (Limit, bool) {
	paths, err := cgroupPaths(root)
	if err != nil {
		return Limit{}, false
	}
	mounts, err := cgroupMounts(root)
	if err != nil {
		return Limit{}, false
	}
	best := Limit{Bytes: unlimited}
	for _, m := range mounts {
		path, ok := paths["v1:memory"]
		if m.v2 {
			path, ok = paths["v2"]
		}
		if !ok {
			continue
		}
		// Without a cgroup namespace the process's path is the host's, and the mount
		// shows the subtree below m.root.
		rel, inside := strings.CutPrefix(path, m.root)
		if !inside || strings.Contains(rel, "..") {
			continue // outside what the mount shows (a cgroup namespace's "/../x")
		}
		dir := filepath.Join(root, m.point, rel)
		top := filepath.Join(root, m.point)
		var lim Limit
		var found bool
		if m.v2 {
			lim, found = v2Limit(dir, top)
		} else {
			lim, found = v1Limit(dir)
		}
		if found && lim.Bytes < best.Bytes {
			best = lim
		}
	}
	if best.Bytes >= unlimited {
		return Limit{}, false
	}
	best.Cgroup = true
	return best, true
}

// cgroupPaths reads /proc/self/cgroup: "v2" for the unified hierarchy's path, and
// "v1:memory" for the memory controller's.
func cgroupPaths(root string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			out["v2"] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				out["v1:memory"] = parts[2]
			}
		}
	}
	return out, nil
}

// cgroupMounts lists the cgroup2 mounts and the cgroup v1 mounts of the memory
// controller.
func cgroupMounts(root string) ([]mount, error) {
	f, err := os.Open(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root point options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		fstype, super := fields[sep+1], fields[sep+3]
		m := mount{root: fields[3], point: fields[4]}
		switch {
		case fstype == "cgroup2":
			m.v2 = true
		case fstype == "cgroup" && hasOption(super, "memory"):
		default:
			continue
		}
		if m.root == "/" {
			m.root = ""
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// v1Limit reads a v1 memory cgroup's limit: hierarchical_memory_limit from memory.stat
// is already the tightest of the cgroup and its ancestors; memory.limit_in_bytes is the
// cgroup's own, for kernels without it.
func v1Limit(dir string) (Limit, bool) {
	stat := filepath.Join(dir, "memory.stat")
	if data, err := os.ReadFile(stat); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "hierarchical_memory_limit "); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					return Limit{Bytes: n, Source: stat}, true
				}
			}
		}
	}
	file := filepath.Join(dir, "memory.limit_in_bytes")
	n, ok := readBytes(file)
	return Limit{Bytes: n, Source: file}, ok
}

// v2Limit walks from dir up to the mount's top, taking the smallest memory.max.
func v2Limit(dir, top string) (Limit, bool) {
	best := Limit{Bytes: unlimited}
	for {
		file := filepath.Join(dir, "memory.max")
		if n, ok := readBytes(file); ok && n < best.Bytes {
			best = Limit{Bytes: n, Source: file}
		}
		if dir == top || !strings.HasPrefix(dir, top) {
			break
		}
		dir = filepath.Dir(dir)
	}
	return best, best.Bytes < unlimited
}

// readBytes reads a cgroup file holding a byte count, or "max" (no limit).
func readBytes(file string) (int64, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	text := strings.TrimSpace(string(data))
	if text == "max" {
		return unlimited, true
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
