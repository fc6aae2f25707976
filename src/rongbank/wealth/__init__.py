"""Bank wealth products (理财): a catalogue staff put on sale; the customer's
risk-tolerance assessment that suitability rules ask for before a sale; purchases
that move the customer's money into the product's custody account; redemption of
open-ended holdings and payout of fixed-term ones at maturity, with their yield."""
