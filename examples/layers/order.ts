/** The order-placed payload the snippets append; `orderId` and `total` also go into the `orders` table. */
export type Order = { orderId: string; total: number } & Record<string, unknown>;
