/** Sizes of the small request/response the target answers and the load generator sends. */
export const REQUEST_BYTES = 100
export const RESPONSE_BYTES = 1024
