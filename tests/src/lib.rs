//! Black-box end-to-end tests live in `tests/tests/`; they run the real `control-plane`
//! (and later `instance-node`) binaries as child processes and talk to them over HTTP only.
#![forbid(unsafe_code)]
