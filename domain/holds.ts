/**
 * The reason every distribution hold of a deviation carries: the same words whether the API placed
 * it when the deviation was opened or the workflow's containment placed it. Free of zod, so that
 * workflow code can import it without building schemas in every run.
 */
export function distributionHoldReason(deviationId: string, title: string): string {
  return `Distribution hold for deviation ${deviationId}: ${title}`;
}
