import request from 'supertest';
import { formatSsccUrn, withCheckDigit } from '../../domain/gs1';
import { cbvEventHash } from '../../epcis/event-hash';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, epcisDocument } from './helpers';

/**
 * POST /epcis/capture with EPCIS XML: 1.2 and 2.0 documents, with an SBDH, in a StandardBusinessDocument
 * or a SOAP envelope, read into the same events as JSON capture and stored the same way.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
});
afterAll(async () => {
  await stack.stop();
});

const tag = `X${Date.now().toString(36).toUpperCase()}`;
const GTIN = withCheckDigit('0401234511111');
const sgtin = (serial: string) => `urn:epc:id:sgtin:4012345.011111.${tag}${serial}`;
const ssccKey = (n: number) => withCheckDigit(`04012345${String((Date.now() * 10 + n) % 1e9).padStart(9, '0')}`);
const sscc = (n: number) => formatSsccUrn(ssccKey(n));
const EPCIS_1 = 'urn:epcglobal:epcis:xsd:1';
const EPCIS_2 = 'urn:epcglobal:epcis:xsd:2';
const SBDH_NS = 'http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader';

const sbdh = `<sbdh:StandardBusinessDocumentHeader>
      <sbdh:HeaderVersion>1.0</sbdh:HeaderVersion>
      <sbdh:Sender><sbdh:Identifier Authority="SGLN">urn:epc:id:sgln:4012345.00001.0</sbdh:Identifier></sbdh:Sender>
      <sbdh:Receiver><sbdh:Identifier Authority="SGLN">urn:epc:id:sgln:0614141.00001.0</sbdh:Identifier></sbdh:Receiver>
      <sbdh:DocumentIdentification>
        <sbdh:Standard>EPCglobal</sbdh:Standard><sbdh:TypeVersion>1.0</sbdh:TypeVersion>
        <sbdh:InstanceIdentifier>${tag}</sbdh:InstanceIdentifier><sbdh:Type>Events</sbdh:Type>
        <sbdh:CreationDateAndTime>2026-11-23T06:00:00Z</sbdh:CreationDateAndTime>
      </sbdh:DocumentIdentification>
    </sbdh:StandardBusinessDocumentHeader>`;

/** An EPCIS 1.2 document (namespace xsd:1), with an SBDH header (1.2 requires it when there is a header). */
const document12 = (events: string, headerExtension = '', extraNamespaces = '') => `<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="${EPCIS_1}" xmlns:sbdh="${SBDH_NS}" xmlns:cbvmda="urn:epcglobal:cbv:mda" ${extraNamespaces}
    schemaVersion="1.2" creationDate="2026-11-23T06:00:00Z">
  <EPCISHeader>
    ${sbdh}
    ${headerExtension}
  </EPCISHeader>
  <EPCISBody><EventList>${events}</EventList></EPCISBody>
</epcis:EPCISDocument>`;

const document20 = (events: string, header = '') => `<epcis:EPCISDocument xmlns:epcis="${EPCIS_2}" xmlns:cbvmda="urn:epcglobal:cbv:mda"
    schemaVersion="2.0" creationDate="2026-11-23T06:00:00Z">${header}
  <EPCISBody><EventList>${events}</EventList></EPCISBody>
</epcis:EPCISDocument>`;

/** A commissioning ObjectEvent in EPCIS 1.2 form: eventID in baseExtension, ilmd in extension. */
const commissioning12 = (id: string, epcs: string[], ilmd: string) => `
    <ObjectEvent>
      <eventTime>2026-11-23T06:00:00Z</eventTime>
      <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
      <baseExtension><eventID>${id}</eventID></baseExtension>
      <epcList>${epcs.map((e) => `<epc>${e}</epc>`).join('')}</epcList>
      <action>ADD</action>
      <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
      <disposition>urn:epcglobal:cbv:disp:active</disposition>
      <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
      <extension><ilmd>${ilmd}</ilmd></extension>
    </ObjectEvent>`;

const cbvIlmd = (lot: string, expiry = '2028-11-30') =>
  `<cbvmda:lotNumber>${lot}</cbvmda:lotNumber><cbvmda:itemExpirationDate>${expiry}</cbvmda:itemExpirationDate>`;

const capture = (body: string, type = 'application/xml') =>
  request(stack.app).post('/epcis/capture').set('Content-Type', type).set('X-API-Key', CAPTURE_KEY).send(body);

const events = async (ids: string[]) =>
  (
    await stack.pool.query<{ event_id: string; type: string; action: string | null; biz_step: string | null; lot: string | null }>(
      'SELECT event_id, type, action, biz_step, lot FROM epcis_events WHERE event_id = ANY ($1) ORDER BY event_id',
      [ids],
    )
  ).rows;
const batch = async (lot: string) =>
  (
    await stack.pool.query<{ gtin: string; expiry: string; source: string }>(
      'SELECT gtin, expiry::text, source FROM batches WHERE lot = $1',
      [lot],
    )
  ).rows;

describe('POST /epcis/capture with EPCIS XML', () => {
  it('captures an EPCIS 1.2 document with an SBDH, every 1.2 event type, and records its header master data', async () => {
    const lot = `L${tag}12`;
    const caseKey = ssccKey(1);
    const caseId = formatSsccUrn(caseKey);
    const masterData = `<extension><EPCISMasterData><VocabularyList>
      <Vocabulary type="urn:epcglobal:epcis:vtype:EPCClass"><VocabularyElementList>
        <VocabularyElement id="urn:epc:idpat:sgtin:4012345.011111.*">
          <attribute id="urn:epcglobal:cbv:mda#regulatedProductName">Epcistra ${tag}</attribute>
          <attribute id="urn:epcglobal:cbv:mda#additionalTradeItemIdentification">0001-0123-45</attribute>
          <attribute id="urn:epcglobal:cbv:mda#dosageFormType">PILL</attribute>
        </VocabularyElement>
      </VocabularyElementList></Vocabulary>
      <Vocabulary type="urn:epcglobal:epcis:vtype:Location"><VocabularyElementList>
        <VocabularyElement id="urn:epc:id:sgln:4012345.00001.0">
          <attribute id="urn:epcglobal:cbv:mda#name">Plant ${tag}</attribute>
          <attribute id="urn:epcglobal:cbv:mda#countryCode">DE</attribute>
        </VocabularyElement>
      </VocabularyElementList></Vocabulary>
    </VocabularyList></EPCISMasterData></extension>`;
    const ids = [1, 2, 3, 4].map((n) => `urn:uuid:${tag}-12-${n}`);
    const body = document12(
      `${commissioning12(ids[0]!, [sgtin('A1'), sgtin('A2')], cbvIlmd(lot))}
       <AggregationEvent>
         <eventTime>2026-11-23T06:05:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
         <baseExtension><eventID>${ids[1]}</eventID></baseExtension>
         <parentID>${caseId}</parentID>
         <childEPCs><epc>${sgtin('A1')}</epc><epc>${sgtin('A2')}</epc></childEPCs>
         <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:packing</bizStep>
       </AggregationEvent>
       <TransactionEvent>
         <eventTime>2026-11-23T06:10:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
         <baseExtension><eventID>${ids[2]}</eventID></baseExtension>
         <bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epcglobal:cbv:bt:4012345000009:${tag}</bizTransaction></bizTransactionList>
         <epcList><epc>${caseId}</epc></epcList>
         <action>ADD</action>
         <extension><sourceList><source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:sgln:4012345.00000.0</source></sourceList></extension>
       </TransactionEvent>
       <extension><TransformationEvent>
         <eventTime>2026-11-23T06:15:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
         <baseExtension><eventID>${ids[3]}</eventID></baseExtension>
         <inputQuantityList><quantityElement><epcClass>urn:epc:class:lgtin:4012345.011111.${lot}</epcClass><quantity>2</quantity></quantityElement></inputQuantityList>
         <outputEPCList><epc>${sgtin('T1')}</epc></outputEPCList>
         <bizStep>urn:epcglobal:cbv:bizstep:repackaging</bizStep>
       </TransformationEvent></extension>`,
      masterData,
    );
    const res = await capture(body).expect(202);
    expect(res.body).toMatchObject({ success: true, events: 4, newEvents: 4 });
    expect(await events(ids)).toEqual([
      { event_id: ids[0], type: 'ObjectEvent', action: 'ADD', biz_step: 'commissioning', lot },
      { event_id: ids[1], type: 'AggregationEvent', action: 'ADD', biz_step: 'packing', lot: null },
      { event_id: ids[2], type: 'TransactionEvent', action: 'ADD', biz_step: null, lot: null },
      { event_id: ids[3], type: 'TransformationEvent', action: null, biz_step: 'repackaging', lot: null },
    ]);
    expect(await batch(lot)).toEqual([{ gtin: GTIN, expiry: '2028-11-30', source: 'epcis' }]);
    const { rows: units } = await stack.pool.query('SELECT status, parent_sscc FROM serialized_items WHERE gtin = $1 AND serial = $2', [
      GTIN,
      `${tag}A1`,
    ]);
    expect(units).toEqual([{ status: 'packed', parent_sscc: caseKey }]);
    // The header's master data, with the document that brought it; the product class names its GTIN.
    const { rows: master } = await stack.pool.query(
      `SELECT vocabulary_type, element_id, gtin, attributes FROM epcis_master_data WHERE document_id = $1 ORDER BY vocabulary_type`,
      [res.body.captureID.slice(1)],
    );
    expect(master).toEqual([
      {
        vocabulary_type: 'urn:epcglobal:epcis:vtype:EPCClass',
        element_id: 'urn:epc:idpat:sgtin:4012345.011111.*',
        gtin: GTIN,
        attributes: {
          'urn:epcglobal:cbv:mda#regulatedProductName': `Epcistra ${tag}`,
          'urn:epcglobal:cbv:mda#additionalTradeItemIdentification': '0001-0123-45',
          'urn:epcglobal:cbv:mda#dosageFormType': 'PILL',
        },
      },
      {
        vocabulary_type: 'urn:epcglobal:epcis:vtype:Location',
        element_id: 'urn:epc:id:sgln:4012345.00001.0',
        gtin: null,
        attributes: { 'urn:epcglobal:cbv:mda#name': `Plant ${tag}`, 'urn:epcglobal:cbv:mda#countryCode': 'DE' },
      },
    ]);

    // The same master data in a later document is not recorded again; a changed name is a new version beside the first.
    const again = await capture(document12(commissioning12(`urn:uuid:${tag}-12-5`, [sgtin('A5')], cbvIlmd(lot)), masterData)).expect(202);
    const changed = await capture(
      document12(
        commissioning12(`urn:uuid:${tag}-12-6`, [sgtin('A6')], cbvIlmd(lot)),
        masterData.replace(`Plant ${tag}`, `Plant ${tag} (renamed)`),
      ),
    ).expect(202);
    const versions = await stack.pool.query<{ document_id: string; name: string }>(
      `SELECT document_id::text, attributes->>'urn:epcglobal:cbv:mda#name' AS name FROM epcis_master_data
        WHERE element_id = 'urn:epc:id:sgln:4012345.00001.0' AND attributes->>'urn:epcglobal:cbv:mda#name' LIKE $1 ORDER BY id`,
      [`Plant ${tag}%`],
    );
    expect(versions.rows).toEqual([
      { document_id: res.body.captureID.slice(1), name: `Plant ${tag}` },
      { document_id: changed.body.captureID.slice(1), name: `Plant ${tag} (renamed)` },
    ]);
    expect(again.body.newEvents).toBe(1);
  });

  it('captures every EPCIS 2.0 event type, CBV URNs stored as the words JSON capture stores', async () => {
    const ids = [1, 2, 3, 4, 5].map((n) => `urn:uuid:${tag}-20-${n}`);
    const when = (m: number) => `<eventTime>2026-11-23T07:0${m}:00+01:00</eventTime><eventTimeZoneOffset>+01:00</eventTimeZoneOffset>`;
    const body = document20(`
      <ObjectEvent>${when(0)}<eventID>${ids[0]}</eventID>
        <epcList><epc>${sgtin('B1')}</epc></epcList><action>ADD</action>
        <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep><disposition>https://ref.gs1.org/cbv/Disp-active</disposition>
        <ilmd>${cbvIlmd(`L${tag}20`)}</ilmd>
      </ObjectEvent>
      <AggregationEvent>${when(1)}<eventID>${ids[1]}</eventID>
        <parentID>${sscc(2)}</parentID><childEPCs><epc>${sgtin('B1')}</epc></childEPCs><action>ADD</action>
        <bizStep>cbv:BizStep-packing</bizStep>
      </AggregationEvent>
      <TransactionEvent>${when(2)}<eventID>${ids[2]}</eventID>
        <bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:inv">urn:epcglobal:cbv:bt:4012345000009:${tag}</bizTransaction></bizTransactionList>
        <epcList><epc>${sgtin('B1')}</epc></epcList><action>ADD</action>
      </TransactionEvent>
      <TransformationEvent>${when(3)}<eventID>${ids[3]}</eventID>
        <inputEPCList><epc>${sgtin('B1')}</epc></inputEPCList><outputEPCList><epc>${sgtin('B2')}</epc></outputEPCList>
        <bizStep>urn:epcglobal:cbv:bizstep:repackaging</bizStep>
        <sensorElementList><sensorElement><sensorReport type="gs1:Temperature" value="21.5" uom="CEL"/></sensorElement></sensorElementList>
      </TransformationEvent>
      <AssociationEvent>${when(4)}<eventID>${ids[4]}</eventID>
        <parentID>urn:epc:id:grai:4012345.55555.${tag}</parentID><childEPCs><epc>urn:epc:id:giai:4012345.${tag}</epc></childEPCs>
        <action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:assembling</bizStep>
      </AssociationEvent>`);
    await capture(body, 'text/xml').expect(202);
    expect((await events(ids)).map((e) => [e.type, e.biz_step])).toEqual([
      ['ObjectEvent', 'commissioning'],
      ['AggregationEvent', 'packing'],
      ['TransactionEvent', null],
      ['TransformationEvent', 'repackaging'],
      ['AssociationEvent', 'assembling'],
    ]);
    const { rows } = await stack.pool.query(
      `SELECT disposition, extra->'sensorElementList' AS sensors FROM epcis_events WHERE event_id = ANY ($1)`,
      [[ids[0], ids[3]]],
    );
    expect(rows).toEqual(
      expect.arrayContaining([
        { disposition: 'active', sensors: null },
        { disposition: null, sensors: [{ sensorReport: [{ type: 'Temperature', value: 21.5, uom: 'CEL' }] }] },
      ]),
    );
  });

  it('stores an event once whether it came as XML or as JSON: by its eventID, and by its content without one', async () => {
    const lot = `L${tag}EQ`;
    const id = `urn:uuid:${tag}-same`;
    const json = {
      type: 'ObjectEvent',
      eventID: id,
      eventTime: '2026-11-23T08:00:00Z',
      eventTimeZoneOffset: '+00:00',
      epcList: [sgtin('C1')],
      action: 'ADD',
      bizStep: 'commissioning',
      disposition: 'active',
      readPoint: { id: 'urn:epc:id:sgln:4012345.00001.0' },
      ilmd: { 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': '2028-11-30' },
    };
    const xml = (eventId: string) => `
      <ObjectEvent>
        <eventTime>2026-11-23T08:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>${eventId}
        <epcList><epc>${sgtin('C1')}</epc></epcList><action>ADD</action>
        <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep><disposition>urn:epcglobal:cbv:disp:active</disposition>
        <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
        <ilmd><mda:lotNumber xmlns:mda="urn:epcglobal:cbv:mda">${lot}</mda:lotNumber><cbvmda:itemExpirationDate>2028-11-30</cbvmda:itemExpirationDate></ilmd>
      </ObjectEvent>`;
    const asJson = (event: unknown) => capture(JSON.stringify(epcisDocument([event])), 'application/ld+json');

    expect((await asJson(json).expect(202)).body.newEvents).toBe(1);
    expect((await capture(document20(xml(`<eventID>${id}</eventID>`))).expect(202)).body.newEvents).toBe(0);

    // Without an eventID both get the event's CBV 2.0 hash: the same one.
    const { eventID: _given, ...anonymous } = json;
    const contentId = cbvEventHash(anonymous);
    expect((await capture(document20(xml(''))).expect(202)).body.newEvents).toBe(1);
    expect((await asJson(anonymous).expect(202)).body.newEvents).toBe(0);
    const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM epcis_events WHERE event_id = ANY ($1)', [[id, contentId]]);
    expect(rows[0].n).toBe(2);
  });

  it('takes a document in a SOAP 1.1 envelope, in a StandardBusinessDocument, and a poll answer (QueryResults) in SOAP 1.2', async () => {
    const ids = [1, 2, 3].map((n) => `urn:uuid:${tag}-wrap-${n}`);
    const observe = (id: string, serial: string) => `
      <ObjectEvent><eventTime>2026-11-23T09:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
        <eventID>${id}</eventID><epcList><epc>${sgtin(serial)}</epc></epcList><action>OBSERVE</action>
        <bizStep>urn:epcglobal:cbv:bizstep:inspecting</bizStep></ObjectEvent>`;
    const soap11 = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
      <soapenv:Header/>
      <soapenv:Body>${document12(commissioning12(ids[0]!, [sgtin('D1')], cbvIlmd(`L${tag}SO`))).replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '',
      )}</soapenv:Body>
    </soapenv:Envelope>`;
    const sbd = `<sbdh:StandardBusinessDocument xmlns:sbdh="${SBDH_NS}">${sbdh}${document20(observe(ids[1]!, 'D2'))}</sbdh:StandardBusinessDocument>`;
    const poll = `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>
      <epcisq:QueryResults xmlns:epcisq="urn:epcglobal:epcis-query:xsd:2">
        <queryName>SimpleEventQuery</queryName>
        <resultsBody><EventList>${observe(ids[2]!, 'D3')}</EventList></resultsBody>
      </epcisq:QueryResults></env:Body></env:Envelope>`;
    for (const body of [soap11, sbd, poll]) expect((await capture(body).expect(202)).body.events).toBe(1);
    expect((await events(ids)).map((e) => e.event_id)).toEqual(ids);
    expect(await batch(`L${tag}SO`)).toEqual([{ gtin: GTIN, expiry: '2028-11-30', source: 'epcis' }]);
  });

  it("reads the lot and expiry under the GS1 US healthcare names and from SAP's SAPExtension", async () => {
    const gs1us = `L${tag}US`;
    const sap = `L${tag}SP`;
    const body = document12(
      `${commissioning12(`urn:uuid:${tag}-us`, [sgtin('E1')], `<gs1ushc:lotNumber>${gs1us}</gs1ushc:lotNumber><gs1ushc:itemExpirationDate>2029-01-31</gs1ushc:itemExpirationDate>`)}
       <ObjectEvent>
         <eventTime>2026-11-23T06:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
         <baseExtension><eventID>urn:uuid:${tag}-sap</eventID></baseExtension>
         <epcList><epc>${sgtin('E2')}</epc></epcList><action>ADD</action>
         <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
         <SAPExtension><ObjAttributes><LOTNO>${sap}</LOTNO><DATEX>20290228</DATEX><DATMF>20261123</DATMF></ObjAttributes></SAPExtension>
       </ObjectEvent>`,
      '',
      'xmlns:gs1ushc="http://epcis.gs1us.org/hc/ns"',
    );
    await capture(body).expect(202);
    expect(await batch(gs1us)).toEqual([{ gtin: GTIN, expiry: '2029-01-31', source: 'epcis' }]);
    expect(await batch(sap)).toEqual([{ gtin: GTIN, expiry: '2029-02-28', source: 'epcis' }]);
    const { rows } = await stack.pool.query(`SELECT lot, extra->'ilmd' AS ilmd FROM epcis_events WHERE event_id = $1`, [
      `urn:uuid:${tag}-us`,
    ]);
    // The event keeps the spelling it was sent with.
    expect(rows).toEqual([{ lot: gs1us, ilmd: { 'gs1ushc:lotNumber': gs1us, 'gs1ushc:itemExpirationDate': '2029-01-31' } }]);
  });

  it('refuses a document with any bad event whole: 400 problem+json listing each problem by event, element and line; nothing stored', async () => {
    const ids = [0, 1, 2, 3].map((n) => `urn:uuid:${tag}-bad-${n}`);
    const base = (n: number, inner: string, time = '<eventTime>2026-11-23T10:00:00Z</eventTime>') =>
      `<ObjectEvent>${time}<eventTimeZoneOffset>+00:00</eventTimeZoneOffset><eventID>${ids[n]}</eventID>${inner}</ObjectEvent>`;
    const body = document20(
      [
        base(0, `<epcList><epc>${sgtin('F0')}</epc></epcList><action>OBSERVE</action>`),
        base(1, `<epcList><epc>${sgtin('F1')}</epc></epcList><action>CREATE</action>`),
        base(2, `<epcList><epc>${sgtin('F2')}</epc></epcList><action>OBSERVE</action>`, ''),
        base(
          3,
          `<epcList><epc>https://id.gs1.org/01/04012345111119/21/${tag}</epc></epcList><action>OBSERVE</action><bizStep>urn:epcglobal:cbv:bizstep:shippping</bizStep>`,
        ),
      ].join('\n'),
    );
    const res = await capture(body).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: 'epcisException:ValidationException', events: 4 });
    const errors = res.body.errors as Array<{ eventIndex: number; field: string; reason: string; element: string; line: number }>;
    const at = (i: number) => errors.filter((e) => e.eventIndex === i);
    expect(at(0)).toEqual([]);
    expect(at(1)).toEqual([expect.objectContaining({ field: 'action', reason: 'must be ADD, OBSERVE or DELETE, not "CREATE"', line: 4 })]);
    expect(at(1)[0]!.element).toBe('epcis:EPCISDocument/EPCISBody/EventList/ObjectEvent/action');
    expect(at(2)).toEqual([expect.objectContaining({ field: 'eventTime', reason: '<eventTime> is missing', line: 5 })]);
    expect(at(3).map((e) => [e.field, e.element.split('/ObjectEvent/')[1]])).toEqual(
      expect.arrayContaining([
        ['bizStep', 'bizStep'],
        ['epcList[0]', 'epcList/epc[1]'],
      ]),
    );
    expect(at(3).find((e) => e.field === 'bizStep')!.reason).toMatch(/is not a CBV business step/);
    expect(at(3).find((e) => e.field === 'epcList[0]')!.reason).toMatch(/check digit/i);
    expect(res.body.totalProblems).toBe(errors.length);
    expect(await events(ids)).toEqual([]);
  });

  it('refuses XML that is not well-formed, or declares a DTD, naming where', async () => {
    const broken = await capture(document20('<ObjectEvent><eventTime>2026-11-23T10:00:00Z</ObjectEvent>')).expect(400);
    expect(broken.body.detail).toMatch(/not well-formed XML.*\(line 3, column \d+\)/);
    const dtd = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>${document20('')}`;
    expect((await capture(dtd).expect(400)).body.detail).toMatch(/DTD/);
    const notEpcis = await capture('<order xmlns="urn:example:orders"><id>1</id></order>').expect(400);
    expect(notEpcis.body.errors[0]).toMatchObject({ field: '(document)', element: 'order', line: 1 });
    await capture(document20(''), 'application/x-epcis').expect(415);
  });

  it('documents the XML media types in the OpenAPI document', async () => {
    const res = await request(stack.app).get('/openapi.json').expect(200);
    expect(Object.keys(res.body.paths['/epcis/capture'].post.requestBody.content).sort()).toEqual([
      'application/json',
      'application/ld+json',
      'application/xml',
      'text/xml',
    ]);
  });
});
