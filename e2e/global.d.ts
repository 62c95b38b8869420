import type * as EdgeRouteModule from '../src/index';

declare global {
  interface Window {
    /** Set by dist/edgeroute.iife.js. */
    EdgeRoute: typeof EdgeRouteModule;
  }
}
