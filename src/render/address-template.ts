/**
 * Fills `{device}`, `{domain}`, ... in a From template. Inside an address only characters
 * safe in a local part survive, so a device name cannot break the address.
 */
export function fillAddressTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = vars[name];
    if (value === undefined) return whole;
    // Inside an address only characters safe in a local part survive.
    return template.includes('@') ? localPart(value) : value;
  });
}

export function localPart(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'device';
}

