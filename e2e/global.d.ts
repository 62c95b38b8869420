import type * as EdgeRouteModule from '../src/iife';

declare global {
  interface Window {
    /** Set by dist/edgeroute.iife.js. */
    EdgeRoute: typeof EdgeRouteModule;
  }
}
