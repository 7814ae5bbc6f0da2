// Package localfile opens local files for one sequential read, as a
// sender or a hasher reads every file of a tree once.
//
// os.Open makes every file ready for the runtime's poller: a fcntl(2) to
// make it non-blocking, an epoll_ctl(2) that fails for a regular file,
// and a finalizer; closing undoes them. For a tree of tiny files that was
// as much CPU as the open(2) itself: in the push of a million files,
// os.Open took 5.1 s of the sender's CPU, 2.2 s of it beside open(2), and
// Close 1.1 s (issue 15's profiles). A File here is the descriptor alone,
// read with plain read(2) on Unix; elsewhere it is an *os.File.
package localfile
