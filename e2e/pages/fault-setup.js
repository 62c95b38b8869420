// Faults for fault-worker.js, chosen by ?fault=… on the worker's URL (repeatable):
//   quota        every IDBObjectStore.put throws QuotaExceededError, as a full disk makes it
//   capture-gpu  every GPUDevice the worker creates is kept on self.edgerouteTestDevices, so a
//                test can destroy it (a device loss) from outside through Playwright
const faults = new URL(self.location.href).searchParams.getAll('fault');

if (faults.includes('quota')) {
  IDBObjectStore.prototype.put = function quotaExceeded() {
    throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
  };
}

if (faults.includes('capture-gpu') && typeof GPUAdapter !== 'undefined') {
  self.edgerouteTestDevices = [];
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function captured(descriptor) {
    const device = await requestDevice.call(this, descriptor);
    self.edgerouteTestDevices.push(device);
    return device;
  };
}
