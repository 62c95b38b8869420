/** Public surface of the routing core (pure: no DOM, no I/O). */
export * from './types';
export * from './random';
export * from './linalg';
export * from './kmeans';
export * from './uniroute';
export * from './baselines';
export * from './lambda-calibration';
export * from './metrics';
export * from './confidence';
export * from './confidence-calibration';
export * from './conditional-errors';
export * from './confidence-router';
export * from './grading';
