package wal

import (
	"container/list"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// FileCache bounds how many sealed segments' data files are open at once, across every
// log that shares it. A partition with small segments, or a node with many partitions,
// can hold more segments than the process may open files (`ulimit -n`); holding a
// descriptor for each ran a node out of them, and then it could neither roll a segment
// nor accept a connection. Sealed segments are read rarely (consumers catching up,
// timestamp lookups), so they open their file on use and the least recently used idle
// ones are closed once more than the bound are open. Active segments, which every append
// writes, always keep their file open and do not count against the bound.
type FileCache struct {
	max int // 0: no bound

	mu  sync.Mutex
	lru list.List // *cachedFile that are open and unpinned, most recently used first
}

// NewFileCache returns a cache keeping at most max sealed-segment files open (idle ones
// beyond it are closed; files in use stay open until their operation ends). max <= 0
// means no bound: a sealed segment's file, once opened, stays open.
func NewFileCache(max int) *FileCache { return &FileCache{max: max} }

// OpenFiles returns how many sealed-segment files the cache holds open.
func (c *FileCache) OpenFiles() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// cachedFile is a segment's data file as the log uses it: pinned (the active segment) it
// stays open; unpinned (sealed) it is opened on use and may be closed by the cache while
// idle. It implements segmentFile, so the log's code
// does not care which.
type cachedFile struct {
	cache  *FileCache
	path   string
	open   openFileFunc
	users  atomic.Int32 // operations in progress
	pinned atomic.Bool

	// Guarded by cache.mu. While pinned, f is set and does not change, so an operation
	// that saw pinned after counting itself in users may use it without the lock.
	f      segmentFile
	closed bool
	elem   *list.Element // in cache.lru while open and unpinned
}

// newPinnedFile wraps a file just opened (or created) for the active segment.
func (c *FileCache) newPinnedFile(path string, f segmentFile, open openFileFunc) *cachedFile {
	cf := &cachedFile{cache: c, path: path, open: open, f: f}
	cf.pinned.Store(true)
	return cf
}

// newClosedFile wraps a segment file that exists but is not opened until first used.
func (c *FileCache) newClosedFile(path string, open openFileFunc) *cachedFile {
	return &cachedFile{cache: c, path: path, open: open}
}

// acquire returns the open file for one operation, which must call release after.
func (cf *cachedFile) acquire() (segmentFile, error) {
	cf.users.Add(1)
	if cf.pinned.Load() {
		// Counted in users before seeing pinned: once unpinned, the cache sees this user
		// and leaves the file open until it is done.
		return cf.f, nil
	}
	c := cf.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf.closed {
		cf.users.Add(-1)
		return nil, os.ErrClosed
	}
	if cf.f == nil {
		c.evictLocked(c.max - 1) // make room first: the bound holds even while opening
		f, err := cf.open(cf.path, os.O_RDWR)
		if err != nil {
			cf.users.Add(-1)
			return nil, fmt.Errorf("reopen segment file: %w", err)
		}
		cf.f = f
	}
	if !cf.pinned.Load() {
		if cf.elem == nil {
			cf.elem = c.lru.PushFront(cf)
		} else {
			c.lru.MoveToFront(cf.elem)
		}
	}
	return cf.f, nil
}

func (cf *cachedFile) release() { cf.users.Add(-1) }

// pin keeps the file open until unpin, opening it if needed: the log pins the segment it
// appends to.
func (cf *cachedFile) pin() error {
	c := cf.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf.closed {
		return os.ErrClosed
	}
	if cf.f == nil {
		f, err := cf.open(cf.path, os.O_RDWR)
		if err != nil {
			return fmt.Errorf("open segment file: %w", err)
		}
		cf.f = f
	}
	if cf.elem != nil {
		c.lru.Remove(cf.elem)
		cf.elem = nil
	}
	cf.pinned.Store(true)
	return nil
}

// unpin lets the cache close the file while it is idle; the log unpins the segment it
// seals.
func (cf *cachedFile) unpin() {
	c := cf.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if !cf.pinned.Load() || cf.closed {
		return
	}
	cf.pinned.Store(false)
	cf.elem = c.lru.PushFront(cf)
	c.evictLocked(c.max)
}

// evictLocked closes the least recently used idle files while more than keep are open.
// A file in use is skipped; it is closed on a later pass if still least recently used.
func (c *FileCache) evictLocked(keep int) {
	if c.max <= 0 {
		return
	}
	for e := c.lru.Back(); e != nil && c.lru.Len() > keep; {
		cf := e.Value.(*cachedFile)
		prev := e.Prev()
		// users is read after pinned was cleared (unpin) under mu: an operation that
		// counts itself later sees pinned false and waits for mu, then reopens.
		if cf.users.Load() == 0 {
			c.lru.Remove(e)
			cf.elem = nil
			// A close error on a file only ever read since its flush loses nothing.
			_ = cf.f.Close()
			cf.f = nil
		}
		e = prev
	}
}

// Close closes the file for good.
func (cf *cachedFile) Close() error {
	c := cf.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf.closed {
		return nil
	}
	cf.closed = true
	cf.pinned.Store(false)
	if cf.elem != nil {
		c.lru.Remove(cf.elem)
		cf.elem = nil
	}
	if cf.f == nil {
		return nil
	}
	err := cf.f.Close()
	cf.f = nil
	return err
}

func (cf *cachedFile) ReadAt(p []byte, off int64) (int, error) {
	f, err := cf.acquire()
	if err != nil {
		return 0, err
	}
	defer cf.release()
	return f.ReadAt(p, off)
}

func (cf *cachedFile) WriteAt(p []byte, off int64) (int, error) {
	f, err := cf.acquire()
	if err != nil {
		return 0, err
	}
	defer cf.release()
	return f.WriteAt(p, off)
}

func (cf *cachedFile) Truncate(size int64) error {
	f, err := cf.acquire()
	if err != nil {
		return err
	}
	defer cf.release()
	return f.Truncate(size)
}

func (cf *cachedFile) Datasync() error {
	f, err := cf.acquire()
	if err != nil {
		return err
	}
	defer cf.release()
	return f.Datasync()
}

func (cf *cachedFile) StartWriteback(off, n int64) error {
	f, err := cf.acquire()
	if err != nil {
		return err
	}
	defer cf.release()
	return f.StartWriteback(off, n)
}

func (cf *cachedFile) Preallocate(off, n int64) error {
	f, err := cf.acquire()
	if err != nil {
		return err
	}
	defer cf.release()
	return f.Preallocate(off, n)
}
