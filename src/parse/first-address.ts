import type { AddressObject } from 'mailparser';

/** A mail's sender, as the decoded mail and the reply mail carry it. */
export interface MailAddress {
  name: string;
  address: string;
}

/** The first address with an address part in a parsed address header (From), or undefined. */
export function firstAddress(value: AddressObject | AddressObject[] | undefined): MailAddress | undefined {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  for (const group of list) {
    const first = group.value.find((a) => a.address);
    if (first?.address) return { name: first.name ?? '', address: first.address };
  }
  return undefined;
}
