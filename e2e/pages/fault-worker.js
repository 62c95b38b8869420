// Test-only wrapper around the real worker: installs the faults named in its own URL
// (fault-setup.js runs first: module dependencies evaluate in order), then runs edgeroute's
// worker unchanged. Pages use it with createRouter({ worker: { workerUrl }, runtimeBaseUrl: '/dist/' }).
import './fault-setup.js';
import '/dist/edgeroute.worker.js';
