// Jest's node environment runs tests in a vm context with its own typed-array constructors, so
// onnxruntime-common's `data instanceof Float32Array` fails for the tensors that the native
// onnxruntime-node backend creates in the host realm ("A float32 tensor's data must be type of
// Float32Array"). Tests run against the real models, so share the host's typed arrays.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class HostTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = HostTypedArraysEnvironment;
