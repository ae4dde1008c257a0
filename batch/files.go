package batch

import "os"

// saveFile saves the job's stdout in a new file of Spec.TempDir, for
// Files: GNU parallel's names, parXXXXX.par. A file that cannot be made
// or written stops the batch, as a failed Results write does.
func (r *batchRun) saveFile(j *job) {
	f, err := os.CreateTemp(r.spec.TempDir, "par*.par")
	if err != nil {
		r.fail(&WriteError{Path: r.spec.TempDir, Err: unwrapPath(err)})
		return
	}
	err = j.stdout.copyTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		r.fail(&WriteError{Path: f.Name(), Err: unwrapPath(err)})
		return
	}
	j.file = f.Name()
}
