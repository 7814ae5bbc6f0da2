package flist

// fileStat is what the walk reads of one file: the fields of lstat(2)
// that go on the wire. Each platform fills it in its own way
// (stat_unix.go, stat_windows.go); the walk sees only this.
type fileStat struct {
	mode      uint32 // st_mode: the type and permission bits, exactly as rsync sends them
	size      int64
	mtime     int64 // seconds since the epoch
	mtimeNsec int32
	uid, gid  uint32
	rdevMajor uint32 // for devices only
	rdevMinor uint32
	// dev, ino and nlink identify hard links (-H): only a non-directory
	// with nlink > 1 can share its inode with another listed name. Zero
	// where the platform does not say (Windows).
	dev, ino uint64
	nlink    uint64
	// ctime is the change time in nanoseconds, for FileID; zero where
	// the platform has none (Windows).
	ctime int64
	// unsupported marks what no option copies: a Windows junction or
	// mount point, which Go reports as irregular.
	unsupported bool
}

// setStat fills in ent from a file's metadata.
func setStat(ent *Entry, name string, st *fileStat) {
	ent.Name = name
	ent.Mode = st.mode
	ent.Size = st.size
	ent.ModTime = st.mtime
	ent.ModNsec = st.mtimeNsec
	ent.UID, ent.GID = st.uid, st.gid
	if ent.IsDevice() {
		ent.RdevMajor, ent.RdevMinor = st.rdevMajor, st.rdevMinor
	}
}

// FileID is what a walk's lstat(2) tells of a file beyond its entry: its
// change time and its identity, by which a cache knows a file unchanged
// since it last read it (tree.DigestCache, as git's index does) without
// a stat of its own. Zero where the platform does not say (Windows).
type FileID struct {
	Ctime    int64 // nanoseconds since the epoch
	Ino, Dev uint64
}

func (st *fileStat) id() FileID { return FileID{Ctime: st.ctime, Ino: st.ino, Dev: st.dev} }
